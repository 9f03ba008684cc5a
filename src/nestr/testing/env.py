"""An isolated environment for a test: own HOME, XDG dirs, git identity, no NESTR_* leaks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def isolated_environ(root: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables that keep a test away from the user's home and config.

    ``HOME`` and every ``XDG_*`` dir point under ``root``; ``NESTR_*`` and ``GIT_*`` variables
    are dropped; git's global config is an empty file under ``root`` with a pinned identity;
    ``LANG``/``LC_ALL`` are ``C.UTF-8`` so messages do not depend on the machine.
    """
    source = dict(os.environ if base is None else base)
    env = {
        k: v
        for k, v in source.items()
        if not k.startswith(("NESTR_", "GIT_", "XDG_")) and k not in {"LANG", "LANGUAGE"}
    }
    home = root / "home"
    gitconfig = home / ".gitconfig"
    home.mkdir(parents=True, exist_ok=True)
    gitconfig.write_text(
        "[user]\n\tname = Nestr Test\n\temail = test@nestr.invalid\n"
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
        "[advice]\n\tdetachedHead = false\n",
        encoding="utf-8",
    )
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(root / "xdg" / "config"),
        XDG_CACHE_HOME=str(root / "xdg" / "cache"),
        XDG_STATE_HOME=str(root / "xdg" / "state"),
        XDG_DATA_HOME=str(root / "xdg" / "data"),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Nestr Test",
        GIT_AUTHOR_EMAIL="test@nestr.invalid",
        GIT_COMMITTER_NAME="Nestr Test",
        GIT_COMMITTER_EMAIL="test@nestr.invalid",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
    )
    return env
