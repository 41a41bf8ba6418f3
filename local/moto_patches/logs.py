"""CloudWatch Logs: a log group's ARN as CloudFormation gives it."""

from __future__ import annotations

from typing import Any

import moto
import moto.backends
import moto.core.responses
import moto.dynamodb.models
import moto.events.models
import moto.sqs.models


def log_group_arns_as_cloudformation_gives_them() -> None:
    """CloudFormation's `Fn::GetAtt [LogGroup, Arn]` is the log group's ARN with `:*` after
    it (CloudFormation User Guide, AWS::Logs::LogGroup, return values): the form a policy's
    `Resource` needs to cover the group's streams, and the form a rule's target names. moto's
    had no `:*`, so a policy that holds on AWS covered no stream here; and its EventBridge
    took the `:*` for part of the group's name."""
    from moto.logs.models import LogGroup

    group_class: Any = LogGroup
    original = group_class.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> str:
        value = str(original(self, attribute_name))
        return f"{value}:*" if attribute_name == "Arn" and not value.endswith(":*") else value

    group_class.get_cfn_attribute = get_cfn_attribute
    rule_class: Any = moto.events.models.Rule
    send = rule_class._send_to_cw_log_group
    rule_class._send_to_cw_log_group = lambda self, name, event: send(
        self, name.removesuffix(":*"), event)
