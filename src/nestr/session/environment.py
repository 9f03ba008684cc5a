"""The versions an environment report shows (``nestr version``, crash logs)."""

from __future__ import annotations

import platform

from nestr import __version__


def versions() -> dict[str, str | None]:
    """nestr's, Python's and git's version (None: git is not installed)."""
    from nestr.git.runner import git_version

    return {"nestr": __version__, "python": platform.python_version(), "git": git_version()}
