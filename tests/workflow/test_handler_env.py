"""Each handler's environment follows from the model: what a function uses, sends to,
publishes on and consumes from, each under one name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from workflow.handler_env import (
    EnvKind,
    EnvVar,
    choreography_environment,
    environment_of,
    handler_environment,
    handler_environments,
    queue_env_var,
    secret_env_var,
    table_env_var,
)
from workflow.legacy import SALES_LEDGER, SALES_LEDGER_QUEUE, TRANSLATOR, with_legacy_consumer
from workflow.model import CHOREOGRAPHY, Bus, Function, Queue, Route, Subdomain, Table, ToQueue


def names(function_id: str, model=CHOREOGRAPHY) -> dict[str, EnvKind]:
    return {variable.name: variable.kind
            for variable in handler_environments(model)[function_id]}


def test_the_names_are_the_model_s_ids_in_capitals():
    assert table_env_var("Orders") == "ORDERS_TABLE_NAME"
    assert queue_env_var("OrderOutbox") == "ORDEROUTBOX_QUEUE_URL"
    assert secret_env_var("CardTokenKey") == "CARD_TOKEN_KEY_SECRET_ARN"


def test_the_order_api_gets_its_table_secret_outbox_and_bus_but_no_dead_letter_queue():
    assert names("OrderApi") == {
        "CARD_TOKEN_KEY_SECRET_ARN": EnvKind.SECRET_ARN,
        "ORDERS_TABLE_NAME": EnvKind.TABLE_NAME,
        "ORDEROUTBOX_QUEUE_URL": EnvKind.QUEUE_URL,
        "EVENT_BUS_NAME": EnvKind.BUS_NAME,
        "EVENT_VERSIONS": EnvKind.EVENT_VERSIONS,
    }


def test_a_consumer_gets_its_idempotency_window_and_dead_letter_queue():
    for function_id in ("OrderEvents", "Warehouse", "Payment", "Loyalty"):
        found = names(function_id)
        assert found["IDEMPOTENCY_TABLE_NAME"] == EnvKind.TABLE_NAME
        assert found["IDEMPOTENCY_WINDOW_SECONDS"] == EnvKind.IDEMPOTENCY_WINDOW
        assert found["DEAD_LETTER_QUEUE_URL"] == EnvKind.DEAD_LETTER_QUEUE_URL


def test_only_the_event_versions_are_optional():
    for variables in handler_environments(CHOREOGRAPHY).values():
        for variable in variables:
            assert variable.optional == (variable.kind == EnvKind.EVENT_VERSIONS), variable


def test_the_notification_receiver_gets_its_table_and_api_key():
    assert names(CHOREOGRAPHY.notification_receiver.function) == {
        "NOTIFICATIONS_TABLE_NAME": EnvKind.TABLE_NAME,
        "NOTIFICATION_API_KEY_SECRET_ARN": EnvKind.SECRET_ARN,
    }


def test_the_legacy_consumer_s_functions_get_their_table_and_queue():
    model = with_legacy_consumer()
    assert names(SALES_LEDGER, model) == {"SALESLEDGER_TABLE_NAME": EnvKind.TABLE_NAME,
                                          "DEAD_LETTER_QUEUE_URL": EnvKind.DEAD_LETTER_QUEUE_URL}
    assert names(TRANSLATOR, model) == {"SALESLEDGER_QUEUE_URL": EnvKind.QUEUE_URL,
                                        "DEAD_LETTER_QUEUE_URL": EnvKind.DEAD_LETTER_QUEUE_URL}
    assert handler_environments(model)[TRANSLATOR][0].ref == SALES_LEDGER_QUEUE


def test_a_table_and_a_queue_added_to_the_model_add_their_variables():
    shipping = Function("Shipping", Subdomain.WAREHOUSE, "functions.shipping.lambda_handler",
                        "Books couriers.", tables=("Couriers",))
    model = replace(CHOREOGRAPHY, functions=(*CHOREOGRAPHY.functions, shipping),
                    tables=(*CHOREOGRAPHY.tables, Table("Couriers", Subdomain.WAREHOUSE, "")),
                    queues=(*CHOREOGRAPHY.queues, Queue("Shipping", Subdomain.WAREHOUSE,
                                                       consumer="Shipping")),
                    routes=(*CHOREOGRAPHY.routes,
                            Route("warehouse.order-shipped", Bus.GLOBAL, ToQueue("Shipping"))))
    assert names("Shipping", model) == {"COURIERS_TABLE_NAME": EnvKind.TABLE_NAME,
                                        "DEAD_LETTER_QUEUE_URL": EnvKind.DEAD_LETTER_QUEUE_URL}


def test_an_environment_takes_a_value_per_kind_and_leaves_out_what_is_optional():
    variables = handler_environment(CHOREOGRAPHY, CHOREOGRAPHY.function("OrderApi"))
    environment = environment_of(variables, {
        EnvKind.TABLE_NAME: lambda variable: f"test-{variable.ref}",
        EnvKind.SECRET_ARN: "arn:secret", EnvKind.QUEUE_URL: "https://queue",
        EnvKind.BUS_NAME: "bus"})
    assert environment == {"CARD_TOKEN_KEY_SECRET_ARN": "arn:secret",
                           "ORDERS_TABLE_NAME": "test-Orders",
                           "ORDEROUTBOX_QUEUE_URL": "https://queue", "EVENT_BUS_NAME": "bus"}
    assert environment_of(variables, dict.fromkeys(EnvKind, "x"))["EVENT_VERSIONS"] == "x"


def test_an_environment_without_a_value_for_a_required_kind_is_refused():
    with pytest.raises(KeyError, match="ORDERS_TABLE_NAME"):
        environment_of([EnvVar("ORDERS_TABLE_NAME", EnvKind.TABLE_NAME, "Orders")], {})


def test_one_environment_serves_every_handler_of_the_choreography():
    environment = choreography_environment(CHOREOGRAPHY, dict.fromkeys(
        set(EnvKind) - {EnvKind.EVENT_VERSIONS}, "x"))
    assert set(environment) == {variable.name for function in CHOREOGRAPHY.functions
                                for variable in handler_environment(CHOREOGRAPHY, function)
                                if not variable.optional}
    assert "ORDEROUTBOX_QUEUE_URL" in environment
