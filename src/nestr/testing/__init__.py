"""Public helpers for testing nestr and its plugins against real git repositories.

``GitRepo`` builds real repositories with history, branches and tags in a temporary directory;
``run_step`` drives a step type through one attempt with a real context;
``isolated_environment`` gives a test its own HOME, XDG dirs and git identity;
``process_running`` and ``live_pids`` tell whether processes outlived what started them;
``check_plugin`` runs a step plugin through the conformance driver of ``nestr plugin check``.
"""

from nestr.testing.env import isolated_environ
from nestr.testing.gitrepo import GitRepo, git
from nestr.testing.plugins import check_plugin
from nestr.testing.processes import live_pids, process_running
from nestr.testing.steps import StepRun, run_step, run_step_sync

__all__ = [
    "GitRepo",
    "StepRun",
    "check_plugin",
    "git",
    "isolated_environ",
    "live_pids",
    "process_running",
    "run_step",
    "run_step_sync",
]
