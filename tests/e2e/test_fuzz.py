"""R5: the order API fuzzed from its own OpenAPI document: valid and invalid requests alike
never get a 5xx, every answer matches the document, and every 202, and only a 202,
publishes an `order.placed`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import RunningSystem, api, log_group_events
from tests.support import eventually

pytestmark = pytest.mark.e2e


CHECKS = (status_code_conformance, content_type_conformance, response_schema_conformance)


def fuzz(api_url: str, mode: GenerationMode, accepted: list[str]) -> None:
    # Fetched as a polite client does (the stage throttles, and fuzzing spends its tokens);
    # the document's server is "/", so requests go to the host that served it.
    document = api("GET", f"{api_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=api_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /orders", "GET /orders/{orderId}"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not (len(operation.body) or
                                                    len(operation.path_parameters)):
            continue  # nothing to get wrong in a request without inputs

        strategy = operation.as_strategy(generation_mode=mode)
        if mode is GenerationMode.POSITIVE:  # the documented examples too: they are valid
            strategy = strategy | st.one_of(schema.get_strategies_from_examples(operation))

        @given(case=strategy)
        @settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: Any) -> None:
            response = case.call(timeout=10)
            while response.status_code in (429, 503) and "retry-after" in response.headers:
                # the API stage's throttle or a busy system, not the function under test
                time.sleep(float(response.headers["retry-after"][0]))
                response = case.call(timeout=10)
            assert response.status_code < 500, \
                f"{case.method} {case.path}: {response.status_code} {response.text[:200]}"
            if mode is GenerationMode.POSITIVE:
                case.validate_response(response, checks=CHECKS)
            else:
                assert response.status_code in (200, 202, 400, 404, 413, 415, 422), response.text
            if case.method == "POST" and response.status_code == 202:
                accepted.append(response.json()["orderId"])

        call()


def test_the_order_api_never_fails_and_publishes_only_what_it_accepts(
        running_system: RunningSystem) -> None:
    started = datetime.now(UTC)
    accepted: list[str] = []
    fuzz(running_system.api, GenerationMode.POSITIVE, accepted)
    fuzz(running_system.api, GenerationMode.NEGATIVE, accepted)

    def placed_since() -> set[str]:
        # the log group keeps whatever any source put on the bus (other tests' hand-made
        # events too), so an event without a time is no order placed by this test
        return {event.get("subject") for event in log_group_events(running_system)
                if event.get("type") == "order.placed" and isinstance(event.get("time"), str)
                and datetime.fromisoformat(event["time"].replace("Z", "+00:00")) >= started}

    # the log group gets every event within moments
    placed = eventually(placed_since, lambda placed: placed >= set(accepted), 30, 0.5,
                        f"an order.placed in the log group for each of the {len(accepted)} orders accepted")
    print(f"\nR5: fuzzed the order API; {len(accepted)} orders accepted, "
          f"{len(placed)} order.placed published")
    assert placed == set(accepted)
