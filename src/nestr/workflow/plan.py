"""A workflow expanded into step instances: ``foreach`` fans out one instance per repo.

Pure planning over plain data: which instances exist, what each one needs, and — given the
states so far — which are ready, which must be skipped. The executors act on it.

Needs between instances: when a foreach step needs a foreach step that has an instance for the
same repo, ``tag[api]`` needs only ``test[api]`` (so one repo's chain never waits on another's);
otherwise an instance needs every instance of the step it names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from nestr.errors import UsageError, WorkflowDefinitionError
from nestr.manifest.model import Manifest, RepoSpec
from nestr.workflow.model import RepoSelector, StepDef, Workflow

# Statuses of a need that let a dependent run (a failure with continue_on_error counts as done).
_PASSING = frozenset({"succeeded"})


@dataclass(frozen=True)
class Instance:
    """One schedulable unit: a step, for one repo or none."""

    key: str
    step: StepDef
    repo: RepoSpec | None
    needs: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """Every instance of a run, in definition order."""

    workflow: Workflow
    instances: tuple[Instance, ...]

    @cached_property
    def _by_key(self) -> dict[str, Instance]:
        return {i.key: i for i in self.instances}

    @cached_property
    def _by_step(self) -> dict[str, list[Instance]]:
        found: dict[str, list[Instance]] = {s.id: [] for s in self.workflow.steps}
        for item in self.instances:
            found[item.step.id].append(item)
        return found

    @cached_property
    def dependents(self) -> dict[str, list[Instance]]:
        """Instances that need each instance key."""
        found: dict[str, list[Instance]] = {i.key: [] for i in self.instances}
        for item in self.instances:
            for need in dict.fromkeys(item.needs):
                found[need].append(item)
        return found

    def instance(self, key: str) -> Instance:
        return self._by_key[key]

    def of_step(self, step_id: str) -> list[Instance]:
        return self._by_step.get(step_id, [])


def instance_key(step_id: str, repo: str | None) -> str:
    return f"{step_id}[{repo}]" if repo is not None else step_id


def select_repos(selector: RepoSelector, manifest: Manifest, step: StepDef) -> list[RepoSpec]:
    """The repos a foreach selects (``Manifest.select``, manifest order); an unknown name or
    group is a definition error at the step, with the message any other selection gives."""
    if selector.all:
        return manifest.active_repos()
    try:
        return manifest.select(groups=selector.groups, names=selector.names)
    except UsageError as exc:
        raise WorkflowDefinitionError(
            exc.message,
            location=step.location,
            field=f"{step.id}.foreach",
            hint=exc.hint,
        ) from None


def build_plan(workflow: Workflow, selected: Mapping[str, Sequence[RepoSpec]]) -> Plan:
    """Instances of ``workflow``; ``selected`` maps each foreach step id to its repos."""
    if all(step.foreach is None for step in workflow.steps):  # one instance per step, as named
        return Plan(workflow, tuple(Instance(s.id, s, None, s.needs) for s in workflow.steps))
    by_step: dict[str, list[str | None]] = {}
    for step in workflow.steps:
        by_step[step.id] = (
            [r.name for r in selected.get(step.id, ())] if step.foreach is not None else [None]
        )
    instances = []
    for step in workflow.steps:
        repos: Sequence[RepoSpec | None] = (
            list(selected.get(step.id, ())) if step.foreach is not None else [None]
        )
        for repo in repos:
            needs = _instance_needs(step, repo.name if repo else None, by_step, workflow)
            key = instance_key(step.id, repo.name if repo else None)
            instances.append(Instance(key, step, repo, needs))
    return Plan(workflow, tuple(instances))


def _instance_needs(
    step: StepDef, repo: str | None, by_step: Mapping[str, list[str | None]], workflow: Workflow
) -> tuple[str, ...]:
    keys: list[str] = []
    for need in step.needs:
        upstream = workflow.step(need)
        repos = by_step[need]
        if repo is not None and upstream.foreach is not None and repo in repos:
            keys.append(instance_key(need, repo))
        else:
            keys.extend(instance_key(need, r) for r in repos)
    return tuple(keys)


def blocked_reason(
    instance: Instance, states: Mapping[str, str], plan: Plan
) -> tuple[bool, str | None]:
    """``(ready, skip_reason)``: ready when every need is over; a reason when one did not pass."""
    for need in instance.needs:
        status = states.get(need, "pending")
        if status in {"pending", "running"}:
            return False, None
    for need in instance.needs:
        status = states[need]
        if status in _PASSING:
            continue
        if status == "failed" and plan.instance(need).step.continue_on_error:
            continue
        return True, f"{need} {status}"
    return True, None


def repo_dict(repo: RepoSpec) -> dict[str, Any]:
    """What a run records of a repo (enough to plan and run it again on resume)."""
    return {
        "name": repo.name,
        "url": repo.url,
        "revision": repo.revision,
        "path": repo.path,
        "groups": list(repo.groups),
    }


def repo_from(raw: Mapping[str, Any]) -> RepoSpec:
    return RepoSpec(
        name=raw["name"],
        url=raw["url"],
        revision=raw["revision"],
        path=raw["path"],
        groups=tuple(raw.get("groups", ())),
    )
