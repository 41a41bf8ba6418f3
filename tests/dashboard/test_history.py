"""History: the read model rebuilt from the log group, idempotently, with progress."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from dashboard.models import ObservedEvent, Order, Sighting
from dashboard.readmodel import history, services
from tests.dashboard import factories

pytestmark = pytest.mark.django_db(transaction=True)


def put_events(stack, events, stream: str = "events", *, ago: timedelta = timedelta()) -> None:
    """Log events as the global bus's log target writes them: the raw EventBridge event,
    logged `ago` before now."""
    with contextlib.suppress(stack.logs.exceptions.ResourceAlreadyExistsException):
        stack.logs.create_log_stream(logGroupName=stack.log_group_name, logStreamName=stream)
    now = int((time.time() - ago.total_seconds()) * 1000)
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


def seen_live_now(order_id: str) -> None:
    """An order the poller has just recorded."""
    now = datetime.now(UTC)
    services.observation_record(observations=[
        factories.observe(event, observed_at=now) for event in factories.happy_path(order_id=order_id)])


def test_each_start_replays_only_what_came_since_the_newest_event_kept(moto_stack, capsys):
    from dashboard.web.serve import prepare

    put_events(moto_stack, factories.happy_path(order_id="ord-earlier"), ago=timedelta(hours=2))
    prepare(clear=False)  # an empty read model: everything kept
    put_events(moto_stack, factories.happy_path(order_id="ord-later"), stream="later")

    prepare(clear=False)

    first, second = [line for line in capsys.readouterr().out.splitlines() if "history rebuilt" in line]
    assert "5 events read (5 new" in first
    assert "5 events read (5 new" in second and " since " in second
    assert Order.objects.filter(order_id__in=["ord-earlier", "ord-later"]).count() == 2


def test_a_replay_starts_a_few_minutes_before_the_newest_event_kept(moto_stack):
    seen_live_now("ord-live")
    put_events(moto_stack, factories.happy_path(order_id="ord-old"), ago=timedelta(hours=1))
    put_events(moto_stack, factories.happy_path(order_id="ord-late"), stream="late",
               ago=timedelta(minutes=2))  # logged before it, arrived after it
    output = StringIO()

    call_command("rebuild_history", stdout=output)

    assert "done: 5 events read (5 new, 0 invalid), 1 orders" in output.getvalue()
    assert not Order.objects.filter(order_id="ord-old").exists()
    assert Order.objects.filter(order_id="ord-late").exists()


def test_full_replays_everything_kept(moto_stack):
    seen_live_now("ord-live")
    put_events(moto_stack, factories.happy_path(order_id="ord-old"), ago=timedelta(hours=1))
    output = StringIO()

    call_command("rebuild_history", "--full", stdout=output)

    assert "done: 5 events read (5 new, 0 invalid), 1 orders" in output.getvalue()
    assert Order.objects.filter(order_id="ord-old").exists()


def test_an_empty_read_model_replays_from_the_retention_horizon(moto_stack, settings):
    settings.DASHBOARD_RETENTION_DAYS = 1
    put_events(moto_stack, factories.happy_path(order_id="ord-expired"), ago=timedelta(days=2))
    put_events(moto_stack, factories.happy_path(order_id="ord-kept"), stream="kept",
               ago=timedelta(hours=1))
    output = StringIO()
    before = datetime.now(UTC) - timedelta(days=1)

    call_command("rebuild_history", stdout=output)

    after = datetime.now(UTC) - timedelta(days=1)
    assert any(f"since {horizon:%Y-%m-%d %H:%M}" in output.getvalue() for horizon in (before, after))
    assert "done: 5 events read (5 new, 0 invalid), 1 orders" in output.getvalue()
    assert list(Order.objects.values_list("order_id", flat=True)) == ["ord-kept"]
