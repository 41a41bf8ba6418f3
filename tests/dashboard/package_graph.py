"""The dashboard's package-level import graph, read from the source with `ast`.

Every `import` and `from ... import` in a module counts, at module level or inside a
function, since a deferred import still ties the two packages together. Each module
maps to its top-level dashboard package (`dashboard/orders/views.py` -> `orders`,
`dashboard/asgi.py` -> `asgi`). Run as a script to print the mutual pairs and cycles.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "dashboard" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path) -> str:
    relative = path.relative_to(DASHBOARD.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            yield base
            # `from dashboard import orders` names a package, not an attribute.
            yield from (f"{base}.{alias.name}" for alias in node.names if base == "dashboard")


def graph() -> dict[str, set[str]]:
    """Each dashboard package, mapped to the other dashboard packages it imports."""
    edges: dict[str, set[str]] = {}
    for path in sorted(DASHBOARD.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = _module_name(path)
        source = _package_of(module)
        if source is None:
            continue
        edges.setdefault(source, set())
        tree = ast.parse(path.read_text(), filename=str(path))
        for name in _imported(tree, module, path.name == "__init__.py"):
            target = _package_of(name)
            if target is not None and target != source:
                edges[source].add(target)
    return edges


def mutual_pairs(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in edges.items() for b in targets if a < b and a in edges.get(b, set())}


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


if __name__ == "__main__":
    edges = graph()
    for source in sorted(edges):
        print(f"{source:>12} -> {', '.join(sorted(edges[source])) or '-'}")
    pairs = sorted(mutual_pairs(edges))
    print(f"\n{len(pairs)} mutual pairs: " + ", ".join(f"{a}<->{b}" for a, b in pairs))
    for component in cycles(edges):
        print(f"cycle ({len(component)}): {', '.join(sorted(component))}")
