"""A problem details answer: what the order API, AWS or a form says went wrong, in one shape
that every page and JSON answer shows. Shared, so that no feature imports another for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem details answer."""

    status: int
    title: str
    detail: str = ""
    errors: tuple[FieldError, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "title": self.title, "detail": self.detail,
                "errors": [{"field": e.field, "message": e.message} for e in self.errors]}
