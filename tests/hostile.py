"""Hypothesis strategies for what anyone who may publish on a bus can put there: a CloudEvent
whose attributes, any of them, hold any JSON value, beside the ones a real event holds."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject", "dataschema",
              "datacontenttype", "correlationid", "causationid", "partitionkey", "data")
"""Every attribute our CloudEvents carry, and `data`."""

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
"""Any text, a NUL and lone surrogates included."""

NEAR_MISSES = st.sampled_from([
    "", "1.0", "order", "order.placed", "urn:choreo:schema:order.placed:1",
    "urn:choreo:schema:order.placed:1\u00b2", "urn:choreo:schema:order.placed:\u0661",
    "urn:choreo:schema:order.placed:01", "urn:choreo:schema:order.placed:99999999999999999999",
    "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2026-11-27T09:30:00Z",
    "2026-02-30T00:00:00Z", "application/json", "[" * 1000, "\u0000", "\ud800",
])
"""Strings close to what an attribute holds, and the ones that broke something once."""

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63, max_value=2**80)
    | st.floats() | ANY_TEXT | NEAR_MISSES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12)
"""Any JSON value (NaN and the infinities included, as Python's json writes them)."""


@st.composite
def hostile_cloudevents(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    """`valid` (a CloudEvent as JSON) with some attributes set to any JSON value, and some
    left out."""
    event = dict(valid)
    for name in draw(st.sets(st.sampled_from(ATTRIBUTES), min_size=1)):
        if draw(st.integers(0, 9)) == 0:
            event.pop(name, None)
        else:
            event[name] = draw(JSON_VALUES)
    return event
