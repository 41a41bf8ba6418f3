"""The one speed-up applied to moto's server still applies to the moto we run."""

from __future__ import annotations

import inspect

import jsonpath_ng.ext
import moto
from moto.events.utils import EventTemplateParser

from local.moto_server import MOTO_VERSION, memoise_jsonpath


def test_moto_is_the_version_the_speed_up_was_measured_on():
    assert moto.__version__ == MOTO_VERSION, (
        "moto changed: check whether EventTemplateParser still parses JSONPath per target, "
        "then update or drop local/moto_server.py")


def test_moto_still_imports_jsonpaths_parse_at_call_time():
    source = inspect.getsource(EventTemplateParser.parse)
    assert "from jsonpath_ng.ext import parse" in source


def test_parsing_is_memoised_and_still_correct():
    memoise_jsonpath()
    first = jsonpath_ng.ext.parse("$.detail.id")
    assert jsonpath_ng.ext.parse("$.detail.id") is first
    event = {"id": "e", "detail": {"id": "ce"}, "detail-type": "t", "source": "s", "time": "0",
             "region": "r", "resources": [], "account": "a", "ingestion-time": "0"}
    parsed = EventTemplateParser.parse(input_template='{"bus": "global", "event": <aws.events.event.json>}',
                                       input_paths_map={}, event=event)
    assert parsed["bus"] == "global" and parsed["event"]["detail"] == {"id": "ce"}
