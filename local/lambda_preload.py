"""What the template process of the local Lambda runtime loads before it forks execution
environments (see `local.lambda_runtime`): the libraries every handler imports, and botocore's
models of the services the handlers call, read into the default session's loader that each
environment's clients will use.

Nothing here may read a function's settings: the environment variables of a function are set
in its own process, after the fork. So no handler module is imported, and no client is made
(a client resolves its region, endpoint and credentials when it is made).
"""

from __future__ import annotations

import gc

import aws_lambda_powertools.event_handler
import aws_lambda_powertools.logging
import aws_lambda_powertools.utilities.batch
import aws_lambda_powertools.utilities.data_classes
import aws_lambda_powertools.utilities.idempotency
import boto3
import cloudevents.core.v1.event
import fastjsonschema

import workflow.catalogue
import workflow.domain.loyalty
import workflow.domain.order
import workflow.domain.payment
import workflow.domain.warehouse
import workflow.envelope

# the services the handlers call; botocore caches their models in the session's loader
SERVICES = ("dynamodb", "events", "sqs")

PRELOADED = (aws_lambda_powertools.event_handler, aws_lambda_powertools.logging,
             aws_lambda_powertools.utilities.batch, aws_lambda_powertools.utilities.data_classes,
             aws_lambda_powertools.utilities.idempotency, cloudevents.core.v1.event, fastjsonschema,
             workflow.catalogue, workflow.envelope, workflow.domain.loyalty, workflow.domain.order,
             workflow.domain.payment, workflow.domain.warehouse)


def load_service_models() -> None:
    # Powertools registers its user-agent initializer with botocore on import (above), before
    # the session exists, as it would in a handler.
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    session = boto3.DEFAULT_SESSION._session
    loader = session.get_component("data_loader")
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        loader.load_data(name)
    for service in SERVICES:
        session.get_service_model(service)
        session.get_service_data(service)
        loader.load_service_model(service, "endpoint-rule-set-1")
        loader.load_service_model(service, "paginators-1")


load_service_models()
workflow.catalogue.validators_compile()
# Everything loaded so far lives as long as the process: keep the collector from walking (and
# so writing to, and un-sharing) those objects' pages in every forked environment.
gc.freeze()
