"""The built-in step types, typed as the registry holds them.

Runtime registration is the ``nestr.steps`` entry-point group in ``pyproject.toml`` (the same
path third-party steps take); this mapping lets mypy check every built-in against the
:class:`~nestr.workflow.protocols.Step` protocol, and a test checks the two lists agree.
"""

from __future__ import annotations

from nestr.workflow.protocols import StepFactory
from nestr.workflow.steps.assemble import AssembleStep
from nestr.workflow.steps.git import GitBranchStep, GitCommitStep, GitPushStep, GitTagStep
from nestr.workflow.steps.noop import NoopStep
from nestr.workflow.steps.shell import ShellStep

BUILTIN_STEPS: dict[str, StepFactory] = {
    "shell": ShellStep,
    "noop": NoopStep,
    "git.branch": GitBranchStep,
    "git.commit": GitCommitStep,
    "git.push": GitPushStep,
    "git.tag": GitTagStep,
    "workspace.assemble": AssembleStep,
}
