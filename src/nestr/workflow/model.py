"""The resolved workflow: frozen values the validator, planner and executors read.

A run records its workflow as JSON (``Workflow.to_dict``) and resumes from that record, so a
definition edited after the run started never changes what the run does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from nestr.errors import SourceLocation

InputType = Literal["string", "number", "boolean"]
SHELL_STEP = "shell"


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries a step gets and how long to wait between them."""

    attempts: int = 1
    backoff: Literal["exponential", "fixed"] = "exponential"
    initial: float = 1.0
    max: float = 30.0
    jitter: bool = True


DEFAULT_RETRY = RetryPolicy()  # one try; frozen, so steps without a policy share it


@dataclass(frozen=True)
class InputDef:
    """A typed workflow input; ``required`` when it has no default."""

    name: str
    type: InputType = "string"
    default: str | bool | int | float | None = None
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class RepoSelector:
    """Which repos a ``foreach`` step fans out over."""

    groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    all: bool = False


@dataclass(frozen=True)
class Compensation:
    """What undoes a step that succeeded (``compensate:``): a step body of its own, run when
    the run fails or is cancelled (``nestr.workflow.saga``). A ``run`` body is the ``shell``
    step type with ``command`` in ``with_``, as for a step; ``cwd`` and ``env`` add to the
    step's."""

    uses: str
    with_: Mapping[str, Any] = field(default_factory=dict)
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uses": self.uses}
        if self.with_:
            out["with"] = dict(self.with_)
        if self.cwd is not None:
            out["cwd"] = self.cwd
        if self.env:
            out["env"] = dict(self.env)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Compensation:
        return cls(raw["uses"], dict(raw.get("with", {})), raw.get("cwd"), dict(raw.get("env", {})))


@dataclass(frozen=True)
class StepDef:
    """One DAG node. A ``run`` step is the ``shell`` step type with ``command`` in ``with_``."""

    id: str
    uses: str
    with_: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    condition: str | None = None
    foreach: RepoSelector | None = None
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    retry: RetryPolicy = DEFAULT_RETRY
    timeout: float | None = None
    continue_on_error: bool = False
    compensate: Compensation | None = None  # what undoes it after a failed or cancelled run
    location: SourceLocation = field(default=SourceLocation(), compare=False)

    @property
    def is_command(self) -> bool:
        return self.uses == SHELL_STEP and "command" in self.with_


@dataclass(frozen=True)
class Workflow:
    """A named DAG of steps with typed inputs and a concurrency limit."""

    name: str
    steps: tuple[StepDef, ...]
    description: str = ""
    inputs: tuple[InputDef, ...] = ()
    concurrency: int | None = None
    fail_fast: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    source: Path | None = field(default=None, compare=False)

    @cached_property
    def _by_id(self) -> dict[str, StepDef]:
        return {step.id: step for step in self.steps}

    def step(self, step_id: str) -> StepDef:
        return self._by_id[step_id]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form recorded with each run."""
        return {
            "name": self.name,
            "description": self.description,
            "inputs": [_input_dict(i) for i in self.inputs],
            "concurrency": self.concurrency,
            "fail_fast": self.fail_fast,
            "env": dict(self.env),
            "source": str(self.source) if self.source else None,
            "steps": [_step_dict(s) for s in self.steps],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Workflow:
        return cls(
            name=raw["name"],
            description=raw.get("description", ""),
            inputs=tuple(InputDef(**i) for i in raw.get("inputs", [])),
            concurrency=raw.get("concurrency"),
            fail_fast=bool(raw.get("fail_fast", False)),
            env=dict(raw.get("env", {})),
            source=Path(raw["source"]) if raw.get("source") else None,
            steps=tuple(_step_from(s) for s in raw["steps"]),
        )


def _input_dict(item: InputDef) -> dict[str, Any]:
    return {
        "name": item.name,
        "type": item.type,
        "default": item.default,
        "description": item.description,
    }


def _step_dict(step: StepDef) -> dict[str, Any]:
    """The step's fields, leaving out those at their default (``_step_from`` fills them back
    in): a run records its definition twice, when it starts and — the row rewritten — when it
    ends, and defaults were two thirds of a typical step's JSON."""
    out: dict[str, Any] = {"id": step.id, "uses": step.uses}
    if step.with_:
        out["with"] = dict(step.with_)
    if step.needs:
        out["needs"] = list(step.needs)
    if step.condition is not None:
        out["if"] = step.condition
    if step.foreach is not None:
        out["foreach"] = _foreach_dict(step.foreach)
    if step.cwd is not None:
        out["cwd"] = step.cwd
    if step.env:
        out["env"] = dict(step.env)
    if step.retry is not DEFAULT_RETRY and step.retry != DEFAULT_RETRY:
        out["retry"] = vars(step.retry).copy()
    if step.timeout is not None:
        out["timeout"] = step.timeout
    if step.continue_on_error:
        out["continue_on_error"] = True
    if step.compensate is not None:
        out["compensate"] = step.compensate.to_dict()
    return out


def _foreach_dict(foreach: RepoSelector) -> dict[str, Any]:
    return {"groups": list(foreach.groups), "names": list(foreach.names), "all": foreach.all}


def _step_from(raw: Mapping[str, Any]) -> StepDef:
    foreach = raw.get("foreach")
    return StepDef(
        id=raw["id"],
        uses=raw["uses"],
        with_=dict(raw.get("with", {})),
        needs=tuple(raw.get("needs", ())),
        condition=raw.get("if"),
        foreach=None
        if foreach is None
        else RepoSelector(tuple(foreach["groups"]), tuple(foreach["names"]), foreach["all"]),
        cwd=raw.get("cwd"),
        env=dict(raw.get("env", {})),
        retry=RetryPolicy(**raw.get("retry", {})),
        timeout=raw.get("timeout"),
        continue_on_error=bool(raw.get("continue_on_error", False)),
        compensate=Compensation.from_dict(raw["compensate"]) if raw.get("compensate") else None,
    )
