"""An event's searchable (path, value) pairs, as recording keeps them (`SearchTerm` for an
event's own, a shared `TermSet` for its order's): search (`dashboard.insight.search`) finds
events through them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

from workflow.catalogue import SCHEMAS
from workflow.model import CHOREOGRAPHY, Choreography

TERM_LENGTH = 128
"""The longest path or value kept as a search term: a longer value is not searchable."""
TERMS_PER_EVENT = 200
"""At most this many terms of one event: anyone may publish data of any size."""

def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def _walk(value: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > 16:
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _walk(inner, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path, depth + 1)
    else:
        text = _scalar(value)
        if text is not None and path:
            yield path, text


def data_terms(data: Any) -> list[tuple[str, str]]:
    """An event's searchable (path, value) pairs, each once, at most TERMS_PER_EVENT."""
    terms: dict[tuple[str, str], None] = {}
    for path, value in _walk(data, "", 0):
        if len(path) <= TERM_LENGTH and len(value) <= TERM_LENGTH:
            terms[(path, value)] = None
            if len(terms) >= TERMS_PER_EVENT:
                break
    return list(terms)


def shared_keys(*, model: Choreography = CHOREOGRAPHY) -> frozenset[str]:
    """The keys of `data` that every event type of the model requires in its schema."""
    required = [set(SCHEMAS[event.name].get("required", ())) for event in model.events
                if event.name in SCHEMAS]
    return frozenset(set.intersection(*required)) if required else frozenset()


SHARED_KEYS = shared_keys()
"""Which pairs are kept in a shared TermSet (`order.*`) rather than per event: how the read
model stores them, fixed when it is recorded (a change needs `manage.py rebuild_history`)."""


def is_shared(path: str) -> bool:
    return path.split(".", 1)[0] in SHARED_KEYS


def terms_split(terms: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """An event's pairs as (shared, its own)."""
    shared: list[tuple[str, str]] = []
    own: list[tuple[str, str]] = []
    for term in terms:
        (shared if is_shared(term[0]) else own).append(term)
    return shared, own


def terms_digest(terms: Sequence[tuple[str, str]]) -> str:
    """What names a TermSet: the same pairs, in any order, give the same digest."""
    return hashlib.sha256(json.dumps(sorted(terms)).encode()).hexdigest()
