"""History: the read model rebuilt from the log group, idempotently, with progress."""

from __future__ import annotations

import contextlib
import json
import time
from io import StringIO

import pytest
from django.core.management import call_command

from dashboard import history
from dashboard.models import ObservedEvent, Order, Sighting
from tests.dashboard import factories

pytestmark = pytest.mark.django_db(transaction=True)


def put_events(stack, events, stream: str = "events") -> None:
    """Log events as the global bus's log target writes them: the raw EventBridge event."""
    with contextlib.suppress(stack.logs.exceptions.ResourceAlreadyExistsException):
        stack.logs.create_log_stream(logGroupName=stack.log_group_name, logStreamName=stream)
    now = int(time.time() * 1000)
    messages = [event if isinstance(event, str) else json.dumps(factories.envelope(event))
                for event in events]
    stack.logs.put_log_events(logGroupName=stack.log_group_name, logStreamName=stream,
                              logEvents=[{"timestamp": now + index, "message": message}
                                         for index, message in enumerate(messages)])


def test_a_rebuild_twice_records_everything_once(moto_stack):
    paths = [factories.happy_path(), factories.declined_path(), factories.rejected_path()]
    put_events(moto_stack, [event for path in paths for event in path] + ["not an event"])
    reports = []

    first = history.history_rebuild(logs=moto_stack.logs, log_group_name=moto_stack.log_group_name,
                                    progress=reports.append)
    second = history.history_rebuild(logs=moto_stack.logs, log_group_name=moto_stack.log_group_name)

    assert (first.events_read, first.new_sightings, first.invalid, first.orders) == (14, 14, 1, 3)
    assert (second.events_read, second.new_sightings) == (14, 0)
    assert ObservedEvent.objects.count() == 14 and Sighting.objects.count() == 14
    assert sorted(Order.objects.values_list("status", flat=True)) == ["cancelled", "rejected", "shipped"]
    assert reports[-1].finished and reports[-1].events_read == 14
    assert set(ObservedEvent.objects.values_list("origin", flat=True)) == {"history"}


def test_a_rebuild_fills_in_what_the_live_poller_missed(moto_stack):
    from dashboard import services

    events = factories.happy_path(order_id="ord-gap")
    services.observation_record(observations=[factories.observe(events[0])])
    put_events(moto_stack, events)

    history.history_rebuild(logs=moto_stack.logs, log_group_name=moto_stack.log_group_name)

    order = Order.objects.get(order_id="ord-gap")
    assert (order.status, order.event_count) == ("shipped", 5)


def test_one_correlation_can_be_replayed_by_a_term_pattern(moto_stack):
    wanted, other = factories.happy_path(), factories.happy_path()
    put_events(moto_stack, wanted + other)

    progress = history.history_rebuild(logs=moto_stack.logs, log_group_name=moto_stack.log_group_name,
                                       filter_pattern=f'"{wanted[0].correlation_id}"')

    assert progress.events_read == 5
    assert list(Order.objects.values_list("order_id", flat=True)) == [wanted[0].subject]


def test_the_command_reports_progress(moto_stack):
    put_events(moto_stack, factories.happy_path(order_id="ord-cmd"))
    output = StringIO()

    call_command("rebuild_history", "--clear", stdout=output)

    text = output.getvalue()
    assert f"rebuilding from {moto_stack.log_group_name}" in text
    assert "done: 5 events read (5 new, 0 invalid), 1 orders" in text
    assert "events/s" in text
    assert Order.objects.get(order_id="ord-cmd").status == "shipped"
