"""The dashboard's packages import one another one way only: a package that imports another
and is imported by it back cannot be read, tested or changed alone.

The layering: `readmodel` (recording, pruning, the read model's shared queries) at the
bottom, importing no feature; the features (`orders`, `failures`, `insight`, `catalogue`,
`traces`, `live`) above it; `web` and `asgi` on top. `ALLOWED_PAIRS` lists the mutual
imports not yet undone: it only shrinks.
"""

from __future__ import annotations

import ast

from tests.dashboard.package_graph import _imported, cycles, graph, mutual_pairs

FEATURES = {"orders", "failures", "insight", "catalogue", "traces", "live"}
SHARED = {"models", "aws", "problems"}
"""What every package may import: the models, the AWS context, the problem details."""

ALLOWED_PAIRS: set[tuple[str, str]] = {
    ("live", "web"),
}


def test_the_read_model_imports_no_feature_and_no_top() -> None:
    assert graph()["readmodel"] <= SHARED


def test_no_new_mutual_imports() -> None:
    assert mutual_pairs(graph()) <= ALLOWED_PAIRS


def test_the_allowed_pairs_are_still_mutual() -> None:
    """A pair undone leaves the list, so that it stays undone."""
    assert mutual_pairs(graph()) >= ALLOWED_PAIRS


def test_deferred_relative_and_package_imports_count() -> None:
    source = ast.parse(
        "from dashboard import aws\n"
        "from . import views\n"
        "from ..orders import forms\n"
        "def later():\n"
        "    import dashboard.live.graph\n")
    assert set(_imported(source, "dashboard.traces.compare", is_package=False)) >= {
        "dashboard.aws", "dashboard.traces", "dashboard.orders", "dashboard.live.graph"}


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
