"""Public helpers for testing nestr and its plugins against real git repositories.

``GitRepo`` builds real repositories with history, branches and tags in a temporary directory;
``isolated_environment`` gives a test its own HOME, XDG dirs and git identity.
"""

from nestr.testing.env import isolated_environ
from nestr.testing.gitrepo import GitRepo, git

__all__ = ["GitRepo", "git", "isolated_environ"]
