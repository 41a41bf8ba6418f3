"""The poller against the embedded AWS: records, broadcasts, then deletes — duplicates and
invalid events included, nothing left behind on the queue."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import get_channel_layer

from dashboard.live import groups
from dashboard.live.broadcast import EventBroadcaster
from dashboard.models import ObservedEvent, Order
from dashboard.readmodel.observability import ObservabilityPoller
from tests.dashboard import factories

pytestmark = pytest.mark.django_db(transaction=True)


def send(stack, *bodies: str) -> None:
    for start in range(0, len(bodies), 10):
        stack.sqs.send_message_batch(QueueUrl=stack.queue_url, Entries=[
            {"Id": str(index), "MessageBody": body}
            for index, body in enumerate(bodies[start:start + 10])])


def queue_depth(stack) -> int:
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(value) for value in attributes["Attributes"].values())


async def drain(layer, channel: str) -> list[dict]:
    items = []
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=0.3)
        except TimeoutError:
            return items
        items += json.loads(message["frame"])["events"]


async def test_one_poll_records_broadcasts_and_drains_the_queue(moto_stack):
    events = factories.happy_path(order_id="ord-polled")
    duplicate = factories.queue_body(events[0])
    bodies = [factories.queue_body(event) for event in events]
    bodies += [factories.queue_body(events[2], "loyalty"), duplicate,
               factories.queue_body(factories.schema_failing(factories.placed(order_id="ord-bad"))),
               "{not json"]
    send(moto_stack, *bodies)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(groups.ALL_EVENTS, channel)
    poller = ObservabilityPoller(sqs=moto_stack.context.client("sqs"), queue_url=moto_stack.queue_url,
                                 broadcaster=EventBroadcaster(interval=0.01))

    received = 0
    while received < len(bodies):
        received += await poller.poll_once(wait_seconds=1)
    await poller.broadcaster.close()

    order = await Order.objects.aget(order_id="ord-polled")
    assert (order.status, order.event_count) == ("shipped", 5)
    assert await ObservedEvent.objects.acount() == 7  # five, plus two invalid
    taken = await ObservedEvent.objects.aget(event_id=events[2].id)
    assert taken.buses == ["global", "loyalty"]
    invalid = [row async for row in ObservedEvent.objects.filter(valid=False)]
    assert sorted(row.order_id for row in invalid) == ["", "ord-bad"]
    broadcast = await drain(layer, channel)
    assert len(broadcast) == 8  # every sighting once: the duplicate is not news
    assert {(item["eventId"], item["bus"]) for item in broadcast} >= {(events[2].id, "loyalty")}
    assert poller.stats.messages == len(bodies) and poller.stats.invalid == 2
    assert queue_depth(moto_stack) == 0


async def test_the_poller_runs_until_stopped_and_stops_promptly(moto_stack):
    poller = ObservabilityPoller(sqs=moto_stack.context.client("sqs"), queue_url=moto_stack.queue_url,
                                 broadcaster=EventBroadcaster(), wait_seconds=20)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    send(moto_stack, *[factories.queue_body(e) for e in factories.declined_path(order_id="ord-run")])

    for _ in range(100):
        if await Order.objects.filter(order_id="ord-run", status="cancelled").aexists():
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the poller did not record the order")
    stop.set()
    # a 20-second long poll is in flight: stopping does not wait for it
    await asyncio.wait_for(task, timeout=2)


async def test_a_failing_receive_is_retried_not_fatal(moto_stack):
    class Flaky:
        calls = 0

        def receive_message(self, **kwargs):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise ConnectionError("the embedded AWS went away")
            return moto_stack.sqs.receive_message(**kwargs)

        def delete_message_batch(self, **kwargs):
            return moto_stack.sqs.delete_message_batch(**kwargs)

    send(moto_stack, factories.queue_body(factories.placed(order_id="ord-flaky")))
    poller = ObservabilityPoller(sqs=Flaky(), queue_url=moto_stack.queue_url, broadcaster=None,
                                 wait_seconds=1, receivers=1)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    for _ in range(100):
        if await Order.objects.filter(order_id="ord-flaky").aexists():
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=3)
    assert poller.stats.errors == 1
    assert await Order.objects.filter(order_id="ord-flaky").aexists()
