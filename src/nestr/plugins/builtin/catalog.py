"""The built-in step types, typed as the registry holds them.

Runtime registration is the ``nestr.steps`` entry-point group in ``pyproject.toml`` (the same
path third-party steps take); this mapping lets mypy check every built-in against the
:class:`~nestr.workflow.protocols.Step` protocol, and a test checks the two lists agree.
Importing it imports every built-in; nothing at run time does.
"""

from __future__ import annotations

from nestr.plugins.builtin.assemble import AssembleStep
from nestr.plugins.builtin.git import GitBranchStep, GitCommitStep, GitPushStep, GitTagStep
from nestr.plugins.builtin.noop import NoopStep
from nestr.plugins.builtin.shell import ShellStep
from nestr.plugins.builtin.sync import SyncApplyStep
from nestr.workflow.protocols import StepFactory

BUILTIN_STEPS: dict[str, StepFactory] = {
    "shell": ShellStep,
    "noop": NoopStep,
    "git.branch": GitBranchStep,
    "git.commit": GitCommitStep,
    "git.push": GitPushStep,
    "git.tag": GitTagStep,
    "workspace.assemble": AssembleStep,
    "sync.apply": SyncApplyStep,
}
