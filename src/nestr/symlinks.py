"""Finding a symlink on the way into a workspace repo, so that nestr never acts outside it.

A leaf both the workspace (assembly, ``foreach``) and the workflow engine (per-repo steps)
ask before they touch a repo directory; see :mod:`nestr.workspace.containment` for why.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def first_symlink(root: Path, rel: str) -> Path | None:
    """The first symlink met walking from ``root`` down to ``root/rel/.git``; None if none.

    Components that do not exist end the walk: whatever nestr creates there is a real
    directory.
    """
    current = root
    for part in (*rel.split("/"), ".git"):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None  # a file on the way: the clone fails there, inside the workspace
        if stat.S_ISLNK(mode):
            return current
    return None
