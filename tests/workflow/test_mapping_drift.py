"""The event source mapping check on hand-made deployments: the model's own is clean, and each
change by hand shows as what it is."""

from __future__ import annotations

import dataclasses

from workflow.mapping_drift import DeployedMapping, DeployedMappings, mapping_drift
from workflow.model import CHOREOGRAPHY

ACCOUNT = "arn:aws:{service}:us-east-1:123456789012:{name}"


def queue_arn(queue_id: str) -> str:
    return ACCOUNT.format(service="sqs", name=f"choreo-{queue_id}")


def function_arn(name: str) -> str:
    return ACCOUNT.format(service="lambda", name=f"function:{name}")


def clean() -> DeployedMappings:
    """What the model's stack deploys: one mapping a queue, to its consumer, as declared."""
    names = {function.id: f"choreo-{function.id}Function-A1B2" for function in CHOREOGRAPHY.functions}
    return DeployedMappings(
        mappings=tuple(DeployedMapping(
            f"uuid-{queue.id}", queue_arn(queue.id), function_arn(names[queue.consumer]),
            batch_size=queue.batch_size,
            batching_window_seconds=queue.batching_window_seconds or None,
            response_types=("ReportBatchItemFailures",), state="Enabled")
            for queue in CHOREOGRAPHY.queues),
        queues={queue.id: queue_arn(queue.id) for queue in CHOREOGRAPHY.queues},
        functions=names)


def replaced(deployed: DeployedMappings, queue_id: str, **changes: object) -> DeployedMappings:
    return dataclasses.replace(deployed, mappings=tuple(
        dataclasses.replace(mapping, **changes) if mapping.uuid == f"uuid-{queue_id}" else mapping
        for mapping in deployed.mappings))


def test_the_models_own_mappings_are_clean_enabled_or_not() -> None:
    assert mapping_drift(clean()) == ()
    # the embedded AWS keeps them disabled, the local runtime polling in their place
    assert mapping_drift(replaced(clean(), "Payment", state="Disabled")) == ()


def test_a_mapping_removed_is_missing() -> None:
    deployed = clean()
    deployed = dataclasses.replace(deployed, mappings=tuple(
        m for m in deployed.mappings if m.uuid != "uuid-Payment"))
    [found] = mapping_drift(deployed)
    assert (found.queue, found.function, found.problem) == ("Payment", "Payment", "missing")
    assert found.summary == "no event source mapping delivers queue Payment to Payment"


def test_a_mapping_changed_by_hand_says_what_differs() -> None:
    [found] = mapping_drift(replaced(clean(), "Payment", batch_size=1, response_types=()))
    assert (found.queue, found.problem, found.uuid) == ("Payment", "changed", "uuid-Payment")
    assert [d.kind for d in found.differences] == ["batch-size", "batch-item-failures"]
    assert found.summary.startswith("batches of 1, not 10; no ReportBatchItemFailures")
    [window] = mapping_drift(replaced(clean(), "OrderOutbox", batching_window_seconds=None))
    assert window.differences[0].detail == "a batching window of 0 s, not 5 s"


def test_another_consumer_of_a_models_queue_is_undeclared() -> None:
    deployed = clean()
    extra = DeployedMapping("uuid-extra", queue_arn("Warehouse"), function_arn("audit"), 10)
    [found] = mapping_drift(dataclasses.replace(deployed, mappings=(*deployed.mappings, extra)))
    assert (found.queue, found.function, found.problem, found.uuid) == (
        "Warehouse", "audit", "undeclared", "uuid-extra")


def test_a_mapping_moved_to_another_function_is_missing_and_undeclared() -> None:
    found = mapping_drift(replaced(clean(), "Order", function_arn=function_arn("elsewhere")))
    assert [(f.queue, f.function, f.problem) for f in found] == [
        ("Order", "OrderEvents", "missing"), ("Order", "elsewhere", "undeclared")]


def test_a_queue_not_read_is_not_checked() -> None:
    deployed = clean()
    deployed = dataclasses.replace(deployed, queues={}, mappings=())
    assert mapping_drift(deployed) == ()


def test_with_no_function_names_the_mapping_closest_to_the_declared_one_stands_for_it() -> None:
    deployed = dataclasses.replace(clean(), functions={})
    extra = DeployedMapping("uuid-extra", queue_arn("Warehouse"), function_arn("audit"), 1)
    for mappings in ((extra, *deployed.mappings), (*deployed.mappings, extra)):
        [found] = mapping_drift(dataclasses.replace(deployed, mappings=mappings))
        assert (found.queue, found.problem, found.uuid) == ("Warehouse", "undeclared", "uuid-extra")
