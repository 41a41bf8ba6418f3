"""Every example event the catalogue shows is one that producers could publish and consumers
would accept: it validates against its type's schema, and as a whole CloudEvent."""

from __future__ import annotations

import pytest

from workflow.catalogue import validate_data
from workflow.envelope import parse_cloudevent
from workflow.examples import example_event
from workflow.model import CHOREOGRAPHY


@pytest.mark.parametrize("event_type", [event.name for event in CHOREOGRAPHY.events])
def test_every_example_validates_against_its_schema(event_type):
    example = example_event(event_type)

    validate_data(event_type, example["data"])
    parsed = parse_cloudevent(example)  # the envelope rules too: source, dataschema, correlation

    event = CHOREOGRAPHY.event(event_type)
    assert (parsed.type, parsed.source, parsed.dataschema) == (event_type, event.producer.value,
                                                               event.dataschema)
    assert example["partitionkey"] == CHOREOGRAPHY.partition_of(example["subject"])


def test_only_what_a_call_from_outside_publishes_has_no_cause():
    started = {route.publishes for api in CHOREOGRAPHY.http_apis for route in api.routes} - {None}
    for event in CHOREOGRAPHY.events:
        assert ("causationid" in example_event(event.name)) == (event.name not in started)


def test_an_example_of_a_terminal_event_states_the_outcome_the_model_gives_it():
    for event in CHOREOGRAPHY.events:
        outcome = example_event(event.name)["data"].get("outcome")
        if outcome is not None:
            assert outcome["status"] == event.concludes_as.value
