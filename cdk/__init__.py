"""The CDK app: one stack built from the choreography model in `workflow.model`."""
