"""The import graph of ``src/nestr`` between its top-level units: no cycles, no edge upward
through the declared layers, and the CLI knows neither the store nor git.

Every ``import`` counts, also inside functions and under ``TYPE_CHECKING``: a lazy import is
still a dependency. A new top-level package or module must be given a layer here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Faces → session → domains → infrastructure → leaves (docs/development.md, "Layers"). A unit
# may import only units of a strictly lower rank. Units that do not exist yet are declared
# where they will go, so that they arrive in the right place.
LAYERS: dict[int, tuple[str, ...]] = {
    95: ("__main__",),  # ``python -m nestr``
    # faces: parse, call the session, render
    90: ("cli",),
    # the terminal UI, a rank below so that the CLI's ``nestr ui`` can start it
    88: ("tui",),
    # the Temporal executor and worker, a rank below so that ``nestr worker`` can start it
    86: ("temporal",),
    # the CLI's client of a server: the server's generated stubs, the library's values
    87: ("client",),
    # the gRPC face, a rank below so that the CLI's ``nestr serve`` can start it
    85: ("server",),
    # the library layer every face builds, and tools built like faces on the library
    82: ("demo",),
    80: ("session", "checking", "testing"),
    # domains: bridges between them sit above the engine; the engine knows no other domain
    70: ("plugins", "watchers"),
    # the Obsidian and Ollama bridges: libraries the plugins wrap, over sync's managed blocks
    60: ("bridges",),
    55: ("sync",),
    50: ("workspace",),
    48: ("workflow",),
    40: ("manifest", "config"),
    # infrastructure
    30: ("git", "store"),
    25: ("proc",),  # the one process-group runner, under git and steps
    20: ("events",),
    # the plugin SDK and protocol (generated messages, handshake): what a plugin imports, so it
    # imports no other unit; the host in ``plugins`` imports it
    18: ("plugin",),
    15: ("observability",),
    # leaves
    14: ("validation",),
    13: ("yamlsource",),
    12: ("fanout", "errors", "inputcache"),
    10: ("nestr", "redaction", "atomicfile", "upward", "filelock", "symlinks", "runtime"),
}
RANK = {unit: rank for rank, units in LAYERS.items() for unit in units}

# Edges known to break the layering while the modules behind them move; each is removed by
# the change named beside it, and this set is then empty. Nothing else may be added here.
KNOWN_UPWARD: frozenset[tuple[str, str]] = frozenset()

# What a face must never reach past the session for (ARCHITECTURE.md: "cli ↛ storage, git").
FORBIDDEN: dict[str, frozenset[str]] = {"cli": frozenset({"store", "git"})}

Graph = Mapping[str, Mapping[str, str]]  # unit -> imported unit -> one module that does it


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str | None:
    """``nestr.workflow.runs`` → ``workflow``; ``nestr`` → ``nestr``; others → None."""
    parts = module.split(".")
    if parts[0] != "nestr":
        return None
    return parts[1] if len(parts) > 1 else "nestr"


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    """Every module an ``import`` anywhere in ``tree`` names (relative ones resolved)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module:
                    yield node.module
                continue
            base = module.split(".")
            base = base if is_package else base[:-1]
            base = base[: len(base) - node.level + 1]
            yield ".".join([*base, *([node.module] if node.module else [])])


def import_graph(src: Path) -> dict[str, dict[str, str]]:
    """Edges between the units of the ``nestr`` package under ``src``."""
    graph: dict[str, dict[str, str]] = {}
    for path in sorted((src / "nestr").rglob("*.py")):
        module = module_name(path, src)
        source = unit_of(module)
        assert source is not None
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges = graph.setdefault(source, {})
        for target in imported_modules(tree, module, path.name == "__init__.py"):
            unit = unit_of(target)
            if unit is not None and unit != source:
                edges.setdefault(unit, module)
    return graph


def upward_edges(graph: Graph, rank: Mapping[str, int]) -> list[str]:
    """Edges to a unit of the same or a higher rank, as ``a -> b (module)``."""
    return [
        f"{a} -> {b} ({module})"
        for a, targets in sorted(graph.items())
        for b, module in sorted(targets.items())
        if rank[b] >= rank[a]
    ]


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def without(graph: Graph, edges: Iterable[tuple[str, str]]) -> dict[str, dict[str, str]]:
    drop = set(edges)
    return {a: {b: m for b, m in ts.items() if (a, b) not in drop} for a, ts in graph.items()}


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, str]]:
    return import_graph(SRC)


def test_every_unit_has_a_layer(graph: dict[str, dict[str, str]]) -> None:
    """Each top-level package and module of nestr is placed in the layer table."""
    units = set(graph) | {b for targets in graph.values() for b in targets}
    assert sorted(units - set(RANK)) == []


def test_no_cycles_between_units(graph: dict[str, dict[str, str]]) -> None:
    """No two units import each other, directly or through others (known moves aside)."""
    assert cycles(without(graph, KNOWN_UPWARD)) == []


def test_no_import_goes_up_a_layer(graph: dict[str, dict[str, str]]) -> None:
    """Every import points to a lower layer, except the known edges still being moved."""
    assert upward_edges(without(graph, KNOWN_UPWARD), RANK) == []


def test_known_upward_edges_still_exist(graph: dict[str, dict[str, str]]) -> None:
    """An allowed edge that is gone must leave the allow-list, so it cannot come back."""
    gone = sorted(f"{a} -> {b}" for a, b in KNOWN_UPWARD if b not in graph.get(a, {}))
    assert gone == []


def test_cli_reaches_neither_the_store_nor_git(graph: dict[str, dict[str, str]]) -> None:
    """The CLI goes through the session for runs, events and mirrors."""
    reached = {
        f"{face} -> {unit} ({graph[face][unit]})"
        for face, units in FORBIDDEN.items()
        for unit in units
        if unit in graph.get(face, {})
    }
    assert reached == set()


def test_checker_finds_upward_edges_cycles_and_lazy_imports(tmp_path: Path) -> None:
    """On a synthetic package the checker sees an import inside a function, a relative import
    and a TYPE_CHECKING import, reports the edge that climbs and the cycle it closes."""
    files = {
        "nestr/__init__.py": "",
        "nestr/low/__init__.py": "from .inner import thing\n",
        "nestr/low/inner.py": "def f():\n    from nestr.high import x\n",
        "nestr/high/__init__.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import nestr.low.inner\n"
        ),
        "nestr/leaf.py": "import os\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    graph = import_graph(tmp_path)
    assert graph == {
        "nestr": {},
        "low": {"high": "nestr.low.inner"},
        "high": {"low": "nestr.high"},
        "leaf": {},
    }
    ranks = {"high": 2, "low": 1, "leaf": 0, "nestr": 0}
    assert upward_edges(graph, ranks) == ["low -> high (nestr.low.inner)"]
    assert cycles(graph) == [["high", "low"]]
    assert cycles(without(graph, {("low", "high")})) == []
