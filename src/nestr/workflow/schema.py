"""The boundary model of a workflow definition: what a user may write, checked by pydantic.

These models parse and type-check one workflow (from ``workflows:`` in the manifest or a
``workflows/*.yaml`` file); ``nestr.workflow.validate`` checks what spans steps (needs, cycles,
expression references) and ``nestr.workflow.loading`` builds the frozen domain values of
``nestr.workflow.model``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PositiveInt, model_validator

from nestr.validation import model_keys
from nestr.workflow.durations import parse_duration
from nestr.yamlsource import KeyPath

STEP_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
INPUT_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RetrySection(_Strict):
    """How often a failed step is tried again, and how long to wait in between."""

    attempts: PositiveInt = Field(1, description="Total tries, the first one included.")
    backoff: Literal["exponential", "fixed"] = Field(
        "exponential", description="exponential doubles the wait after each try; fixed keeps it."
    )
    initial: Duration = Field(1.0, description="Wait before the second try (e.g. 1s).")
    max: Duration = Field(30.0, description="Longest wait between tries (e.g. 30s).")
    jitter: bool = Field(True, description="Full jitter: wait a random time up to the backoff.")


class InputSection(_Strict):
    """A typed workflow input, set with ``--var NAME=VALUE``."""

    type: Literal["string", "number", "boolean"] = Field("string", description="Value type.")
    default: str | bool | int | float | None = Field(
        None, description="Value when --var does not set it; without one the input is required."
    )
    description: str = Field("", description="What the input means.")


class ForeachSection(_Strict):
    """A repo selector: one step instance per selected repo."""

    groups: list[str] = Field(default_factory=list, description="Repos in any of these groups.")
    names: list[str] = Field(default_factory=list, description="Repos with these names.")
    all: bool = Field(False, description="Every active repo of the manifest.")

    @model_validator(mode="after")
    def _not_empty(self) -> ForeachSection:
        if not self.all and not self.groups and not self.names:
            raise ValueError("foreach selects no repo: set groups, names or all: true")
        return self


class DefaultsSection(_Strict):
    """Settings every step inherits unless it sets its own."""

    retry: RetrySection | None = Field(None, description="Default retry policy.")
    timeout: Duration | None = Field(None, description="Default timeout per attempt (e.g. 10m).")
    env: dict[str, str] = Field(default_factory=dict, description="Environment for every step.")


class CompensateSection(_Strict):
    """What undoes a step that succeeded, run when the run fails or is cancelled: a command
    (``run``) or a registered step type (``uses``), with the step's repo, retry and timeout."""

    run: str | None = Field(None, description="Command, split like a shell would (shlex).")
    shell: bool = Field(False, description="Run `run` through /bin/sh instead of argv.")
    uses: str | None = Field(None, description="A step type from the registry, e.g. git.push.")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", description="Step inputs.")
    cwd: str | None = Field(None, description="Working directory (relative to the repo/root).")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment.")

    @model_validator(mode="after")
    def _one_action(self) -> CompensateSection:
        _check_body(self.run, self.uses, self.shell, self.with_)
        return self


def _check_body(run: str | None, uses: str | None, shell: bool, with_: dict[str, Any]) -> None:
    """A step body names exactly one action, and only the keys that action reads."""
    if (run is None) == (uses is None):
        raise ValueError("a step needs exactly one of `run` (a command) or `uses` (a type)")
    if shell and run is None:
        raise ValueError("`shell: true` only applies to `run` steps")
    if with_ and run is not None:
        raise ValueError("`with` only applies to `uses` steps")


class StepSection(_Strict):
    """One node of the DAG: a command (``run``) or a registered step type (``uses``)."""

    id: str = Field(description="Unique id; other steps refer to it.", pattern=STEP_ID_PATTERN)
    needs: list[str] = Field(default_factory=list, description="Steps that must finish first.")
    if_: str | bool | None = Field(None, alias="if", description="Run only if this is true.")
    run: str | None = Field(None, description="Command, split like a shell would (shlex).")
    shell: bool = Field(False, description="Run `run` through /bin/sh instead of argv.")
    uses: str | None = Field(None, description="A step type from the registry, e.g. git.tag.")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", description="Step inputs.")
    foreach: ForeachSection | None = Field(None, description="Fan out: one instance per repo.")
    cwd: str | None = Field(None, description="Working directory (relative to the repo/root).")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment.")
    retry: RetrySection | None = Field(None, description="Retry policy (overrides defaults).")
    timeout: Duration | None = Field(None, description="Timeout per attempt (e.g. 10m).")
    continue_on_error: bool = Field(False, description="A failure does not stop dependents.")
    compensate: CompensateSection | None = Field(
        None, description="What undoes the step when the run fails or is cancelled."
    )

    @model_validator(mode="before")
    @classmethod
    def _needs_as_list(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("needs"), str):
            return {**raw, "needs": [raw["needs"]]}
        return raw

    @model_validator(mode="after")
    def _one_action(self) -> StepSection:
        _check_body(self.run, self.uses, self.shell, self.with_)
        return self


class WorkflowSection(_Strict):
    """A workflow: typed inputs, defaults and a DAG of steps."""

    name: str | None = Field(None, description="Name (default: the key or the file stem).")
    description: str = Field("", description="One line shown by `nestr workflow list`.")
    inputs: dict[str, InputSection] = Field(default_factory=dict, description="Typed inputs.")
    concurrency: PositiveInt | None = Field(None, description="Most steps running at once.")
    fail_fast: bool = Field(False, description="The first failure cancels everything else.")
    defaults: DefaultsSection = Field(default_factory=DefaultsSection)
    steps: list[StepSection] = Field(min_length=1, description="The steps (DAG nodes).")


def known_keys(key_path: KeyPath) -> list[str]:
    """Keys allowed in the mapping at ``key_path`` of a workflow (for did-you-mean)."""
    return model_keys(WorkflowSection, key_path)
