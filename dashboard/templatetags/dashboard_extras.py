"""Small template filters: SVG coordinates, durations, links to orders, and JSON for the trace
and failures pages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django import template

from dashboard.shared import links

register = template.Library()

TITLE_CHAR_WIDTH = 7.4  # a bold 12px sans-serif, generously


@register.filter
def num(value: float | int | None) -> str:
    """A coordinate for SVG: at most one decimal, never localized."""
    if value is None:
        return "0"
    return f"{float(value):.1f}".rstrip("0").rstrip(".")


@register.filter
def add_num(value: float, amount: float) -> str:
    return num(float(value) + float(amount))


@register.filter
def sub_num(value: float, amount: float) -> str:
    return num(float(value) - float(amount))


@register.filter
def text_too_wide(text: str, width: float) -> bool:
    return len(text) * TITLE_CHAR_WIDTH > float(width)


@register.filter
def duration(milliseconds: float | None) -> str:
    """A human duration: 840 ms, 2.4 s, 3 min 5 s."""
    if milliseconds is None:
        return "—"
    value = float(milliseconds)
    if abs(value) < 1000:
        return f"{value:.0f} ms"
    if abs(value) < 60_000:
        return f"{value / 1000:.1f} s"
    minutes, seconds = divmod(int(value / 1000), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.filter
def order_url(order_id: str, view: str = "order-trace") -> str:
    """The URL of an order's trace (or of the page `view` names), whatever its id holds."""
    return links.order_url(view, order_id)


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON for a <pre>; autoescaping still applies where it is shown."""
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False, default=str)


@register.filter
def pretty_body(body: str) -> str:
    """A message body as indented JSON when it parses, else as it is; autoescaping still
    applies where it is shown."""
    try:
        return pretty_json(json.loads(body))
    except ValueError:
        return body


@register.filter
def ago(moment: datetime | None) -> str:
    """How long ago, as a human duration (see `duration`)."""
    return duration(None if moment is None else (datetime.now(UTC) - moment).total_seconds() * 1000)


@register.filter
def percent(part: float | None, whole: float | None) -> str:
    """A position on the timeline, as a CSS percentage."""
    if part is None or not whole:
        return "0%"
    return f"{max(0.0, min(100.0, float(part) / float(whole) * 100)):.3f}%"


@register.filter
def hop_width(item: Any, whole: float | None) -> str:
    """The width of a hop's bar on the timeline (from its cause to it), as a percentage."""
    start, end = getattr(item, "start_ms", None), getattr(item, "offset_ms", None)
    if start is None or end is None or not whole:
        return "0%"
    return f"{max(0.0, min(100.0, (float(end) - float(start)) / float(whole) * 100)):.3f}%"


@register.filter
def money(amount: Any, currency: str = "") -> str:
    """Integer minor units as a price: 650, "GBP" → "6.50 GBP"."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        return ""
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 100)
    return f"{sign}{major}.{minor:02d} {currency}".strip()


@register.filter
def mul_quarter(value: float | None, quarters: int) -> float:
    return float(value or 0) * int(quarters) / 4


@register.filter
def get_item(mapping: Mapping[str, Any], key: str) -> Any:
    """mapping[key], or None: a template cannot index by a variable. A mapping the context
    does not have (the template engine's "") has no keys."""
    return mapping.get(key) if mapping else None


@register.filter
def signed_duration(milliseconds: float | None) -> str:
    """A difference of durations, its sign always shown: +12 ms, ±0 ms, and a minus
    sign (not a hyphen) before 3 ms."""
    if milliseconds is None:
        return "—"
    if round(float(milliseconds)) == 0 and abs(float(milliseconds)) < 0.5:
        return "±0 ms"
    sign = "+" if milliseconds > 0 else "\N{MINUS SIGN}"
    return sign + duration(abs(float(milliseconds)))


@register.filter
def schema_version(event: Any) -> int | None:
    """The version of an observed event's schema, as its `dataschema` names it (None when it
    names no published version of its type)."""
    from dashboard.readmodel.version_minutes import event_version
    return event_version(getattr(event, "type", ""), getattr(event, "envelope", None))
