"""The names an instance's expressions see: ``inputs``, ``steps``, ``repo``, ``run``, ``env``.

``steps.X`` is ``{"outputs": {...}, "status": "..."}``. When X fans out over repos, a foreach
instance for repo R sees X's instance for R (same shape) if there is one; everyone else sees
``steps.X.outputs`` as a mapping ``repo -> outputs`` and ``steps.X.status`` as the worst status
of its instances (``failed`` before ``cancelled``, ``skipped``, ``succeeded``).

``steps`` is computed per name on access, so an instance costs the same whatever the size of
the workflow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nestr.manifest.model import RepoSpec
from nestr.workflow.plan import Instance, Plan, instance_key

_WORST_FIRST = ("failed", "cancelled", "skipped", "running", "pending", "succeeded")


class StepsView(Mapping[str, Any]):
    """``steps`` of one instance's scope: ``{"outputs", "status"}`` of each step, on demand."""

    def __init__(
        self,
        instance: Instance,
        plan: Plan,
        states: Mapping[str, str],
        outputs: Mapping[str, Mapping[str, str]],
    ) -> None:
        self._instance = instance
        self._plan = plan
        self._states = states
        self._outputs = outputs

    def __getitem__(self, step_id: str) -> dict[str, Any]:
        members = self._plan.of_step(step_id)
        if not members:
            raise KeyError(step_id)
        step = members[0].step
        repo = self._instance.repo
        own = instance_key(step_id, repo.name) if repo is not None else None
        if step.foreach is None or (own is not None and any(m.key == own for m in members)):
            key = step_id if step.foreach is None else str(own)
            return {
                "outputs": dict(self._outputs.get(key, {})),
                "status": self._states.get(key, "pending"),
            }
        statuses = [self._states.get(m.key, "pending") for m in members]
        return {
            "outputs": {m.repo.name: dict(self._outputs.get(m.key, {})) for m in members if m.repo},
            "status": _worst(statuses),
        }

    def __iter__(self) -> Iterator[str]:
        return (s.id for s in self._plan.workflow.steps)

    def __len__(self) -> int:
        return len(self._plan.workflow.steps)


def build_scope(
    instance: Instance,
    plan: Plan,
    *,
    run_id: str,
    inputs: Mapping[str, Any],
    states: Mapping[str, str],
    outputs: Mapping[str, Mapping[str, str]],
    root: Path,
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "inputs": dict(inputs),
        "steps": StepsView(instance, plan, states, outputs),
        "run": {"id": run_id, "workflow": plan.workflow.name, "root": str(root)},
    }
    if instance.repo is not None:
        scope["repo"] = repo_scope(instance.repo, root)
    return scope


def repo_scope(repo: RepoSpec, root: Path) -> dict[str, Any]:
    return {
        "name": repo.name,
        "path": repo.path,
        "dir": str(root / repo.path),
        "url": repo.url,
        "revision": repo.revision,
        "groups": list(repo.groups),
    }


def _worst(statuses: list[str]) -> str:
    for status in _WORST_FIRST:
        if status in statuses:
            return status
    return "succeeded"
