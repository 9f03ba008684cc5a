"""The DAG of a workflow's steps: order, cycles, ancestry, and drawings of it.

Pure functions over ``{step_id: needs}``; nothing here runs anything.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

from nestr.workflow.model import Workflow

Edges = Mapping[str, Sequence[str]]  # step id -> the ids it needs


def edges_of(workflow: Workflow) -> dict[str, tuple[str, ...]]:
    return {step.id: tuple(step.needs) for step in workflow.steps}


MAX_CYCLES = 50  # a hostile graph has exponentially many cycles; this many is enough to act on


def find_cycle(edges: Edges) -> list[str] | None:
    """One cycle as ``[a, b, a]`` (each needs the next), or None if the graph is acyclic."""
    return next(iter(find_cycles(edges, limit=1)), None)


def find_cycles(edges: Edges, *, limit: int = MAX_CYCLES) -> list[list[str]]:
    """Distinct cycles, each as ``[a, b, a]`` (each needs the next), at most ``limit`` of them.

    One cycle per back edge of a depth-first search in definition order (each need that closes
    a loop): every cycle of the graph goes through at least one of them, and no two reported
    cycles close at the same need. A step needing itself is not a cycle here (the validator
    reports it on its own). Depth-first with an explicit stack: a chain of thousands of steps
    must not hit Python's recursion limit; the work is linear in the size of the graph plus the
    length of the cycles returned.
    """
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    cycles: dict[tuple[str, ...], None] = {}  # a set that keeps the order found
    for start in edges:
        if start in state or len(cycles) >= limit:
            continue
        path, depth = [start], {start: 0}
        state[start] = 1
        # each need once: a repeated need would slice the same long path again and again
        pending = [iter(dict.fromkeys(edges[start]))]
        while pending and len(cycles) < limit:
            need = next(pending[-1], None)
            if need is None:
                state[path.pop()] = 2
                pending.pop()
            elif state.get(need) == 1 and need != path[-1]:
                cycles.setdefault((*path[depth[need] :], need), None)
            elif need in edges and need not in state:
                state[need] = 1
                depth[need] = len(path)
                path.append(need)
                pending.append(iter(dict.fromkeys(edges[need])))
    return [list(cycle) for cycle in cycles]


def topological_order(edges: Edges) -> list[str]:
    """Every node after the nodes it needs; ties keep definition order (Kahn's algorithm)."""
    waiting = {node: len(set(needs)) for node, needs in edges.items()}
    dependents: dict[str, list[str]] = {node: [] for node in edges}
    for node, needs in edges.items():
        for need in set(needs):
            dependents[need].append(node)
    ready = deque(node for node, count in waiting.items() if count == 0)
    order: list[str] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for dependent in dependents[node]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    return order


def layers(edges: Edges) -> dict[str, int]:
    """Each node's layer: 0 for a node that needs none, else one more than its deepest need
    (the rows of a layered drawing, where a node comes after everything it needs)."""
    layer: dict[str, int] = {}
    for node in topological_order(edges):
        layer[node] = 1 + max((layer[n] for n in edges[node] if n in layer), default=-1)
    return layer


def ancestors(edges: Edges, node: str) -> set[str]:
    """Every node ``node`` needs, directly or not (each node is visited once)."""
    return Ancestry(edges).of(node)


class Ancestry:
    """Ancestor sets of the nodes of one graph, computed on demand and kept.

    ``visits`` counts nodes taken off the work list, so tests can prove the work stays linear
    in the size of the graph rather than timing it.
    """

    def __init__(self, edges: Edges) -> None:
        self.edges = edges
        self.visits = 0
        self._known: dict[str, set[str]] = {}

    def of(self, node: str) -> set[str]:
        """Every node ``node`` needs, directly or not."""
        known = self._known.get(node)
        if known is None:
            known = self._known[node] = self._walk(node)
        return known

    def is_upstream(self, name: str, node: str) -> bool:
        """Whether ``node`` needs ``name``; a direct need is answered without a walk."""
        return name in self.edges.get(node, ()) or name in self.of(node)

    def _walk(self, node: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.edges.get(node, ()))
        seen.update(todo)
        while todo:
            current = todo.pop()
            self.visits += 1
            for need in self.edges.get(current, ()):
                if need not in seen:
                    seen.add(need)
                    todo.append(need)
        return seen


def _label(workflow: Workflow, step_id: str) -> str:
    step = workflow.step(step_id)
    kind = "run" if step.is_command else step.uses
    fan = " (foreach)" if step.foreach else ""
    return f"{step_id}: {kind}{fan}"


def to_mermaid(workflow: Workflow) -> str:
    lines = ["flowchart TD"]
    for step in workflow.steps:
        lines.append(f'    {_node_id(step.id)}["{_label(workflow, step.id)}"]')
    for step in workflow.steps:
        lines.extend(f"    {_node_id(need)} --> {_node_id(step.id)}" for need in step.needs)
    return "\n".join(lines) + "\n"


def to_dot(workflow: Workflow) -> str:
    lines = [f'digraph "{workflow.name}" {{', "    rankdir=TB;"]
    for step in workflow.steps:
        lines.append(f'    "{step.id}" [label="{_label(workflow, step.id)}"];')
    for step in workflow.steps:
        lines.extend(f'    "{need}" -> "{step.id}";' for need in step.needs)
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_text(workflow: Workflow) -> str:
    """One line per step in run order, with what it needs."""
    order = topological_order(edges_of(workflow))
    lines = [f"{workflow.name}"]
    for step_id in order:
        needs = workflow.step(step_id).needs
        after = f"  ← {', '.join(needs)}" if needs else ""
        lines.append(f"  {_label(workflow, step_id)}{after}")
    return "\n".join(lines) + "\n"


def _node_id(step_id: str) -> str:
    return "s_" + step_id.replace("-", "_")
