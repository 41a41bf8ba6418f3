"""DynamoDB tables, as the model declares them."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from cdk.constructs.defaults import REMOVAL_POLICY
from cdk.constructs.naming import logical_id_set
from workflow.model import Choreography, Table


def table_create(scope: Construct, table: Table) -> dynamodb.Table:
    resource = dynamodb.Table(
        scope, table.id,
        partition_key=dynamodb.Attribute(name=table.partition_key,
                                         type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=table.sort_key, type=dynamodb.AttributeType.STRING)
        if table.sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        time_to_live_attribute=table.ttl_attribute,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True),
        removal_policy=REMOVAL_POLICY,
    )
    logical_id_set(resource, f"{table.id}Table")
    return resource


class SharedTables(Construct):
    """The tables no one subdomain owns (the idempotency records every consumer keeps)."""

    def __init__(self, scope: Construct, construct_id: str, *,
                 choreography: Choreography) -> None:
        super().__init__(scope, construct_id)
        self.tables = {table.id: table_create(self, table)
                       for table in choreography.tables if table.subdomain is None}
