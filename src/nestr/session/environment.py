"""What a face sets up in its environment from the config (git credentials), and the versions an
environment report shows (``nestr version``, crash logs)."""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING

from nestr import __version__

if TYPE_CHECKING:
    from nestr.config.loader import LoadedConfig


def versions() -> dict[str, str | None]:
    """nestr's, Python's and git's version (None: git is not installed)."""
    from nestr.git.runner import git_version

    return {"nestr": __version__, "python": platform.python_version(), "git": git_version()}


def use_git_credentials(config: LoadedConfig) -> None:
    """Hand the git credentials of ``config`` to every git this process runs from now on.

    Every face calls it once its config is loaded (the CLI on loading it); it raises a
    ``ConfigError`` naming ``git.ssh_key_file`` and where it was set when that file is missing.
    """
    from nestr.git.credentials import configure

    origin = config.origins["git.ssh_key_file"].location
    configure(config.settings.git, key_file_origin=origin)
