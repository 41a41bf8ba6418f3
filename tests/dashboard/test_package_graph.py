"""The dashboard's packages import one another one way only: a package that imports another
and is imported by it back cannot be read, tested or changed alone.

The layering: `readmodel` (recording, pruning, the read model's shared queries) at the
bottom, importing no feature; the features (`orders`, `failures`, `insight`, `catalogue`,
`traces`, `live`) above it; `web` and `asgi` on top; `shared` (problem details, access,
links, client addresses) beside the models, importing no feature.
"""

from __future__ import annotations

import ast

from tests.dashboard.package_graph import _imported, cycles, graph, mutual_pairs

FEATURES = {"orders", "failures", "insight", "catalogue", "traces", "live"}
SHARED = {"models", "aws", "shared"}
"""What every package may import: the models, the AWS context, `dashboard.shared`."""


def test_the_read_model_imports_no_feature() -> None:
    assert graph()["readmodel"] <= SHARED


def test_no_feature_imports_the_top() -> None:
    edges = graph()
    upward = {feature: edges[feature] & {"web", "asgi", "urls"} for feature in FEATURES}
    assert {feature: found for feature, found in upward.items() if found} == {}


def test_the_shared_modules_import_no_feature() -> None:
    assert graph()["shared"] <= SHARED


def test_no_two_packages_import_each_other() -> None:
    assert mutual_pairs(graph()) == set()


def test_no_packages_reach_each_other_through_others() -> None:
    assert cycles(graph()) == []


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
