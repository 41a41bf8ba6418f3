"""Events from sources the model does not declare: the observing rules match every event, so
the read model sees them, and keeps a small sighting of each for drift rather than an event
of the model or a failure; whatever they carry, nothing breaks and nothing of the model's is
lost."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from dashboard.catalogue.selectors import undeclared_sources
from dashboard.models import ObservedEvent, Order, UndeclaredSighting
from dashboard.readmodel import services
from dashboard.readmodel.history import history_rebuild
from dashboard.readmodel.observations import observation_from_queue_body
from tests.dashboard import factories

pytestmark = pytest.mark.django_db

T0 = factories.T0


def foreign(source: str, detail_type: str, detail: Any = None, **fields: Any) -> dict[str, Any]:
    """An EventBridge event another publisher put on a bus: not one of our CloudEvents."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {"invoice": 7} if detail is None else detail, **fields}


def record(*envelopes: dict[str, Any], bus: str = "global", seconds: int = 0) -> list[dict[str, Any]]:
    return services.observation_record(observations=[observation_from_queue_body(
        json.dumps({"bus": bus, "event": outer}), observed_at=T0 + timedelta(seconds=seconds),
        origin="live") for outer in envelopes])


def test_an_undeclared_source_is_a_sighting_for_drift_not_an_event_or_a_failure() -> None:
    ours = factories.placed(order_id="ord-1")
    items = record(factories.envelope(ours), foreign("legacy.billing", "invoice.sent"))
    assert [item["eventId"] for item in items] == [ours.id]  # nothing goes out for it
    assert list(ObservedEvent.objects.values_list("event_id", flat=True)) == [ours.id]
    [sighting] = UndeclaredSighting.objects.all()
    assert (sighting.bus, sighting.source, sighting.detail_type, sighting.account, sighting.origin) == (
        "global", "legacy.billing", "invoice.sent", "123456789012", "live")


def test_a_sighting_is_counted_once_per_bus_however_often_it_is_delivered() -> None:
    outer = foreign("legacy.billing", "invoice.sent")
    record(outer)
    record(outer, seconds=1)  # delivered again (SQS is at least once)
    record(outer, bus="loyalty", seconds=2)
    assert sorted(UndeclaredSighting.objects.values_list("bus", flat=True)) == ["global", "loyalty"]


def test_an_undeclared_source_impersonating_the_model_changes_no_order() -> None:
    """Our own CloudEvent, put on the bus under another source: no route delivers it, and the
    read model does not take it for the order's."""
    impostor = factories.envelope(factories.placed(order_id="ord-impostor"))
    impostor["source"] = "someone.else"
    assert record(impostor) == []
    assert not Order.objects.exists() and not ObservedEvent.objects.exists()
    assert UndeclaredSighting.objects.get().detail_type == "order.placed"


def test_drift_reads_each_source_with_its_types_counts_buses_and_when() -> None:
    record(foreign("legacy.billing", "invoice.sent"), seconds=0)
    record(foreign("legacy.billing", "invoice.sent"), seconds=5)
    record(foreign("legacy.billing", "invoice.voided"), bus="loyalty", seconds=9)
    record(foreign("com.example.crm", "contact.created"), seconds=3)
    billing, crm = undeclared_sources()
    assert (billing.source, billing.count, billing.buses) == ("legacy.billing", 3, ("global", "loyalty"))
    assert (billing.first_seen, billing.last_seen) == (T0, T0 + timedelta(seconds=9))
    assert [(kind.type, kind.count) for kind in billing.types] == [
        ("invoice.sent", 2), ("invoice.voided", 1)]
    assert billing.types[0].last_seen == T0 + timedelta(seconds=5)
    assert (crm.source, crm.count, crm.buses, crm.first_seen) == (
        "com.example.crm", 1, ("global",), T0 + timedelta(seconds=3))
    assert len(undeclared_sources(limit=1)) == 1


@pytest.mark.parametrize("outer", [
    foreign("x" * 300, "t" * 300),  # longer than any column
    foreign("nul\x00source", "lone \ud800 surrogate"),  # what no database keeps
    foreign("odd", "t", detail="not an object", account=12, id=None),
], ids=["long", "unkeepable", "odd"])
def test_whatever_an_undeclared_source_puts_on_a_bus_is_counted_and_breaks_nothing(outer) -> None:
    ours = factories.placed(order_id="ord-beside")
    record(outer, factories.envelope(ours))
    assert Order.objects.get().order_id == "ord-beside"
    sighting = UndeclaredSighting.objects.get()
    assert sighting.source and len(sighting.source) <= 256 and len(sighting.detail_type) <= 256
    assert "\x00" not in sighting.source


def test_a_message_that_cannot_be_read_is_still_a_failure_whoever_sent_it() -> None:
    """Not JSON, or nested too deep to read safely: nothing says its source, so it is kept
    as an invalid event with the reason, as before."""
    services.observation_record(observations=[observation_from_queue_body(
        "{not json", observed_at=T0, origin="live")])
    record(foreign("deep", "t", detail=json.loads("[" * 200 + "]" * 200)))
    assert sorted(ObservedEvent.objects.values_list("valid", "invalid_reason")) == [
        (False, "message body is not JSON: Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1)"), (False, "nested deeper than 32 levels")]
    assert not UndeclaredSighting.objects.exists()


def test_sightings_are_pruned_with_the_events_and_cleared_with_the_read_model() -> None:
    record(foreign("old", "t"), seconds=0)
    record(foreign("new", "t"), seconds=100)
    result = services.read_model_prune(before=T0 + timedelta(seconds=50))
    assert result.undeclared == 1 and result.done
    assert list(UndeclaredSighting.objects.values_list("source", flat=True)) == ["new"]
    services.read_model_clear()
    assert not UndeclaredSighting.objects.exists()


class Logs:
    """The log group, as `filter_log_events` pages it: one page."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.events = [{"message": json.dumps(message), "ingestionTime": 1767225600000 + index}
                       for index, message in enumerate(messages)]

    def filter_log_events(self, **_: Any) -> dict[str, Any]:
        return {"events": self.events}


def test_a_history_replay_counts_an_undeclared_source_once_however_often_replayed() -> None:
    logs = Logs(foreign("legacy.billing", "invoice.sent"),
                factories.envelope(factories.placed(order_id="ord-replayed")))
    for _ in range(2):
        history_rebuild(logs=logs, log_group_name="history")
    sighting = UndeclaredSighting.objects.get()
    assert (sighting.source, sighting.origin) == ("legacy.billing", "history")
    assert Order.objects.get().order_id == "ord-replayed"
