"""Choices every construct here makes the same way."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

# The runtime and architecture the handlers and the dependency layer are built for (the
# layer's wheels are fetched for this platform: cdk.assets.LAYER_PLATFORM).
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64

# Long enough to investigate last month's incidents, short enough not to pay for old logs.
LOG_RETENTION = logs.RetentionDays.ONE_MONTH

# A reference app is deployed to be tried and torn down: `cdk destroy` should leave nothing
# behind to pay for. Tables keep point-in-time recovery against a bad write meanwhile.
REMOVAL_POLICY = RemovalPolicy.DESTROY
