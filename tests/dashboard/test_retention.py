"""Retention: what was observed more than DASHBOARD_RETENTION_DAYS ago is pruned, batch by
batch, by a command and by the poller, and no page breaks for what is left."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from dashboard.models import ObservedEvent, Order, Sighting
from dashboard.readmodel import services
from dashboard.readmodel.observability import ObservabilityPoller
from tests.dashboard import factories
from tests.support import wait_for

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=45)


def record(events, *, observed_at: datetime) -> None:
    services.observation_record(observations=[
        factories.observe(event, observed_at=observed_at + timedelta(milliseconds=index))
        for index, event in enumerate(events)])


@pytest.mark.django_db
def test_what_is_past_retention_is_pruned_and_the_rest_kept():
    record(factories.happy_path(order_id="ord-old"), observed_at=OLD)
    record(factories.happy_path(order_id="ord-new"), observed_at=NOW)

    result = services.read_model_prune(before=services.retention_horizon())

    assert (result.events, result.orders, result.done) == (5, 1, True)
    assert list(Order.objects.values_list("order_id", flat=True)) == ["ord-new"]
    assert set(ObservedEvent.objects.values_list("order_id", flat=True)) == {"ord-new"}
    assert Sighting.objects.count() == 5


@pytest.mark.django_db
def test_a_bounded_run_prunes_a_batch_at_a_time_and_the_next_goes_on():
    record(factories.happy_path(order_id="ord-old"), observed_at=OLD)
    horizon = services.retention_horizon()

    first = services.read_model_prune(before=horizon, batch_size=2, max_batches=2)

    assert (first.events, first.orders, first.done) == (4, 0, False)
    assert ObservedEvent.objects.count() == 1 and Order.objects.count() == 1
    second = services.read_model_prune(before=horizon, batch_size=2, max_batches=2)
    assert (second.events, second.orders, second.done) == (1, 1, True)
    assert not ObservedEvent.objects.exists() and not Order.objects.exists()


@pytest.mark.django_db
def test_retention_zero_keeps_everything(settings):
    settings.DASHBOARD_RETENTION_DAYS = 0
    assert services.retention_horizon() is None
    assert services.retention_horizon(now=NOW) is None
    settings.DASHBOARD_RETENTION_DAYS = 30
    assert services.retention_horizon(now=NOW) == NOW - timedelta(days=30)


@pytest.mark.django_db
def test_an_order_whose_early_events_were_pruned_still_has_its_pages(client, stack):
    events = factories.happy_path(order_id="ord-half")
    record(events[:2], observed_at=OLD)
    record(events[2:], observed_at=NOW)

    result = services.read_model_prune(before=services.retention_horizon())

    assert (result.events, result.orders) == (2, 0)
    trace = client.get("/orders/ord-half")
    assert trace.status_code == 200
    html = trace.content.decode()
    assert "earliest events are past the retention period" in html
    assert events[-1].id in html and events[0].id not in html
    body = client.get("/api/orders/ord-half").json()
    assert body["status"] == "shipped" and body["earlierPruned"] is True
    assert [e["event"]["type"] for e in body["events"]] == [e.type for e in events[2:]]
    assert "ord-half" in client.get("/orders/").content.decode()
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_a_whole_trace_says_nothing_of_pruning(client, stack):
    record(factories.happy_path(order_id="ord-whole"), observed_at=NOW)
    assert "retention" not in client.get("/orders/ord-whole").content.decode()
    assert client.get("/api/orders/ord-whole").json()["earlierPruned"] is False


@pytest.mark.django_db
def test_the_command_prunes_everything_due_with_progress(settings):
    record(factories.happy_path(order_id="ord-old"), observed_at=OLD)
    record(factories.happy_path(order_id="ord-week"), observed_at=NOW - timedelta(days=8))
    output = StringIO()

    call_command("prune_history", stdout=output)
    assert "done: 5 events and 1 orders pruned" in output.getvalue()
    assert list(Order.objects.values_list("order_id", flat=True)) == ["ord-week"]

    call_command("prune_history", "--days", "7", stdout=output)
    assert "done: 5 events and 1 orders pruned" in output.getvalue().splitlines()[-1]
    assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_the_poller_prunes_at_start_a_bounded_run(moto_stack, monkeypatch):
    from dashboard.readmodel import observability

    await asyncio.to_thread(record, factories.happy_path(order_id="ord-old"), observed_at=OLD)
    monkeypatch.setattr(services, "PRUNE_BATCH", 1)
    monkeypatch.setattr(observability, "PRUNE_BATCHES", 3)
    poller = ObservabilityPoller(sqs=moto_stack.context.client("sqs"), queue_url=moto_stack.queue_url,
                                 broadcaster=None, wait_seconds=1, receivers=1)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))

    # the pass at start has finished: whatever it was going to prune, it has
    await asyncio.to_thread(wait_for, lambda: poller.stats.prune_passes >= 1, 10, 0.02,
                            "the pruning pass at start finished")
    stop.set()
    await asyncio.wait_for(task, timeout=3)

    assert await ObservedEvent.objects.acount() == 2  # three batches of one, then wait a minute
    assert await Order.objects.acount() == 1
    assert poller.stats.prune_passes == 1
    assert poller.stats.errors == 0
