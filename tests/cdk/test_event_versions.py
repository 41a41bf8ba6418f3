"""The version of each event its producers publish is a deployment setting: it becomes the
environment of exactly the functions that publish that event, and nothing else changes."""

from __future__ import annotations

from typing import Any

import pytest

from cdk.app import synth_template
from cdk.settings import SettingsError
from workflow.model import CHOREOGRAPHY


def _environments(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {properties["Handler"]: properties.get("Environment", {}).get("Variables", {})
            for resource in template["Resources"].values()
            if resource["Type"] == "AWS::Lambda::Function"
            for properties in [resource["Properties"]] if "Handler" in properties}


def test_the_setting_reaches_every_producer_of_the_event_and_only_them():
    default = _environments(synth_template(nag=False))
    switched = _environments(synth_template({"choreo:eventVersions": "order.placed=2"},
                                            nag=False))

    producers = {function.handler for function in CHOREOGRAPHY.functions
                 if "order.placed" in function.publishes}
    assert producers == {"functions.order.api.lambda_handler",
                         "functions.order.relay.lambda_handler"}
    assert not any("EVENT_VERSIONS" in variables for variables in default.values())
    assert {handler for handler, variables in switched.items()
            if variables.get("EVENT_VERSIONS") == "order.placed=2"} == producers
    assert {handler: {k: v for k, v in variables.items() if k != "EVENT_VERSIONS"}
            for handler, variables in switched.items()} == default


@pytest.mark.parametrize("setting", ["order.placed=3", "order.shipped=2", "order.placed=two"])
def test_a_version_never_published_stops_the_synth(setting: str):
    with pytest.raises(SettingsError, match="choreo:eventVersions"):
        synth_template({"choreo:eventVersions": setting}, nag=False)


def test_local_mode_takes_the_setting_from_its_environment(monkeypatch: pytest.MonkeyPatch):
    from local.config import LocalConfig
    from local.deploy import synth_context

    assert "choreo:eventVersions" not in synth_context(LocalConfig.from_environment())
    monkeypatch.setenv("CHOREO_EVENT_VERSIONS", "order.placed=2")
    assert synth_context(LocalConfig.from_environment())["choreo:eventVersions"] == "order.placed=2"
