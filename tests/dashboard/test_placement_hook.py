"""The read model keeps where each event was published: the `account` and `region` of its
EventBridge envelope, which `workflow.placement.placement_of_envelope` reads (what a drawing
of account and region boundaries starts from)."""

from __future__ import annotations

import pytest

from dashboard.models import ObservedEvent
from dashboard.readmodel.services import observation_record
from tests.dashboard import factories
from workflow.placement import Placement, placement_of_envelope

pytestmark = pytest.mark.django_db

LOYALTY = "222222222222"


def test_an_event_from_another_account_is_kept_with_that_account_and_region():
    _placed, _reserved, taken, awarded, _shipped = factories.happy_path()
    outer = factories.envelope(awarded)
    outer.update({"account": LOYALTY, "region": "eu-west-1"})
    observation_record(observations=[
        factories.observe(taken),
        factories.observation_from_queue_body(factories.queue_body(outer), observed_at=awarded.time,
                                              origin="live")])
    row = ObservedEvent.objects.get(event_id=awarded.id)
    assert placement_of_envelope(row.eventbridge) == Placement(LOYALTY, "eu-west-1")
    home = ObservedEvent.objects.get(event_id=taken.id)
    assert placement_of_envelope(home.eventbridge).account != LOYALTY
