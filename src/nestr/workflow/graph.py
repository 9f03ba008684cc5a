"""The DAG of a workflow's steps: order, cycles, ancestry, and drawings of it.

Pure functions over ``{step_id: needs}``; nothing here runs anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nestr.workflow.model import Workflow

Edges = Mapping[str, Sequence[str]]  # step id -> the ids it needs


def edges_of(workflow: Workflow) -> dict[str, tuple[str, ...]]:
    return {step.id: tuple(step.needs) for step in workflow.steps}


def find_cycle(edges: Edges) -> list[str] | None:
    """One cycle as ``[a, b, a]`` (each needs the next), or None if the graph is acyclic."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for need in edges.get(node, ()):
            if state.get(need) == 1:
                return [*stack[stack.index(need) :], need]
            if need in edges and need not in state:
                found = visit(need)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in edges:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def topological_order(edges: Edges) -> list[str]:
    """Every node after the nodes it needs; ties keep definition order (Kahn's algorithm)."""
    waiting = {node: len(set(needs)) for node, needs in edges.items()}
    dependents: dict[str, list[str]] = {node: [] for node in edges}
    for node, needs in edges.items():
        for need in set(needs):
            dependents[need].append(node)
    ready = [node for node, count in waiting.items() if count == 0]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for dependent in dependents[node]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    return order


def ancestors(edges: Edges, node: str) -> set[str]:
    """Every node ``node`` needs, directly or not."""
    seen: set[str] = set()
    todo = list(edges.get(node, ()))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, ()))
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
