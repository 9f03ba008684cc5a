"""Git through the git CLI: one runner (nestr.git.runner) and the mirror cache."""

from nestr.git.runner import GitResult, git_env, run_git, run_git_sync

__all__ = ["GitResult", "git_env", "run_git", "run_git_sync"]
