"""The roles a stack's rules put events on another account's bus as, in a stack of their own.

The receiving bus's policy names each role (`cdk.constructs.boundaries.bus_policy_statement`),
and IAM resolves a role named in a resource policy to the role's unique id when the policy is
written, so the role must exist first (IAM User Guide, *AWS JSON policy elements: Principal*,
IAM role principals:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).
Forwards go both ways between the home account and Loyalty's, so a role beside the rule that
uses it would make each stack wait for the other; in a stack of their own, deployed before
every other, the roles wait for nothing (`workflow.placement.Placements.forwarding_stacks`).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk.constructs.naming import logical_id_set
from cdk.constructs.routes import EVENTS_PRINCIPAL
from workflow.placement import Forward, ForwardingPlan


def forwarding_role_logical_id(forward: Forward) -> str:
    """`ForwardToChoreoLoyaltyLoyaltyBus`: the receiving stack and its bus."""
    receiver = "".join(part.title() for part in forward.receiver.name.split("-"))
    return f"ForwardTo{receiver}{forward.bus.value.title()}Bus"


class ForwardingRolesStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, plan: ForwardingPlan,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.roles: dict[str, iam.Role] = {}
        for forward in plan.forwards:
            logical_id = forwarding_role_logical_id(forward)
            role = iam.Role(
                self, logical_id, role_name=forward.role_name, assumed_by=EVENTS_PRINCIPAL,
                description=f"EventBridge puts what the rules of {forward.sender.name} forward "
                            f"on {forward.bus_arn} as this role")
            logical_id_set(role, logical_id)
            # Only that bus; its policy says which events.
            role.add_to_policy(iam.PolicyStatement(actions=["events:PutEvents"],
                                                   resources=[forward.bus_arn]))
            self.roles[forward.role_arn] = role
