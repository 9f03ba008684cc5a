"""Whether nestr writes git's on-disk files itself (``git.write_clones``), and the self-check first.

Writing a borrowing clone's ``.git`` by hand (:mod:`nestr.git.localclone`), taking commits off a
mirror's ``shallow`` list (:mod:`nestr.git.shallow`) and rewriting a fresh clone's ``HEAD`` and
``config`` in place save git processes, which is what assembling small repos costs. They also
make git's file layout an interface nestr depends on, beside its command line. So they are
behind a switch:

- ``true``: write whenever the self-check passes;
- ``false``: never; ``git clone --shared``, ``git remote set-url`` and friends do the work;
- ``auto`` (default): write only on the git versions the differential test
  (``tests/git/test_localclone.py::test_written_clone_matches_git_clone``) has run against,
  :data:`COVERED_GIT`; on any other version behave as ``false``.

Whatever the setting, nothing is written into a repository whose layout the writer does not
know (:func:`supported_layout`): a repository format above 0, any extension (SHA-256 object
names, reftable refs), or missing ``HEAD``/``refs``/``objects``. Then git does the work.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from nestr.git.runner import git_version

WriteClonesSetting = bool | Literal["auto"]

# The git versions (major, minor), both ends included, that the differential test has passed
# on. Widen only after running tests/git/test_localclone.py on the new version.
COVERED_GIT = ((2, 39), (2, 39))
VERSION_FILE = "git-version.json"


def version_key(version: str | None) -> tuple[int, int] | None:
    """``(2, 39)`` for ``2.39.5``, ``2.39.5.windows.1`` or ``2.45.0.rc1``; None if unreadable."""
    match = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def covered(version: str | None) -> bool:
    """Whether the differential test has covered git ``version``."""
    key = version_key(version)
    return key is not None and COVERED_GIT[0] <= key <= COVERED_GIT[1]


def writes_git_files(setting: WriteClonesSetting, version: Callable[[], str | None]) -> bool:
    """The ``git.write_clones`` setting decided: ``auto`` asks ``version()`` (only then)."""
    if setting == "auto":
        return covered(version())
    return bool(setting)


class WriteClones:
    """The ``git.write_clones`` switch of one operation, decided once, when first needed.

    ``version`` pretends the installed git is that version (for ``auto``); None asks the git
    on PATH (:func:`installed_git_version`, remembered in ``cache_dir``).
    """

    def __init__(
        self,
        setting: WriteClonesSetting = "auto",
        *,
        cache_dir: Path | None = None,
        version: str | None = None,
    ) -> None:
        self.setting = setting
        self.cache_dir = cache_dir
        self.version = version
        self._enabled: bool | None = None

    @property
    def enabled(self) -> bool:
        """Whether nestr may write git's files in this operation (each write self-checks too)."""
        if self._enabled is None:
            self._enabled = writes_git_files(self.setting, self._version)
        return self._enabled

    def _version(self) -> str | None:
        if self.version is not None:
            return self.version
        return installed_git_version(self.cache_dir) if self.cache_dir else git_version()


def installed_git_version(cache_dir: Path) -> str | None:
    """The version of the ``git`` on PATH, remembered in ``cache_dir`` per executable.

    Kept beside the mirrors with the executable's path, size and modification time, so an
    assembly does not start ``git --version`` each time; an upgraded git is asked again.
    """
    found = shutil.which("git")
    if found is None:
        return None
    try:
        info = Path(found).stat()
    except OSError:
        return git_version()
    identity = {"path": found, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    memo = cache_dir / VERSION_FILE
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
        if isinstance(known, dict) and known.get("git") == identity:
            return str(known["version"])
    except (OSError, ValueError, KeyError):
        pass
    version = git_version()
    if version is not None:
        _remember(memo, {"git": identity, "version": version})
    return version


def _remember(memo: Path, data: dict[str, object]) -> None:
    tmp = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(memo)
    except OSError:
        tmp.unlink(missing_ok=True)  # not remembered: asked again next time


def plain_repository(config: str) -> bool:
    """Whether a repository's config asks for nothing nestr does not write: format 0, no
    extensions (such as SHA-256 object names or reftable refs)."""
    match = re.search(r"^\s*repositoryformatversion\s*=\s*(\S+)", config, re.MULTILINE | re.I)
    version = match.group(1) if match else "0"
    return version == "0" and not re.search(r"^\s*\[\s*extensions", config, re.MULTILINE | re.I)


def supported_layout(git_dir: Path) -> bool:
    """The self-check before nestr writes into ``git_dir``: the files-backend layout of a
    SHA-1 repository, format 0 — ``config``, a ``HEAD`` file that names a branch or a commit,
    ``refs/`` and ``objects/`` directories, and no ``reftable/``."""
    try:
        config = (git_dir / "config").read_text(encoding="utf-8")
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False
    names_something = re.fullmatch(r"ref: refs/heads/[^\s]+|[0-9a-f]{40}", head) is not None
    return (
        plain_repository(config)
        and names_something
        and head != "ref: refs/heads/.invalid"  # the stub HEAD of a reftable repository
        and (git_dir / "refs").is_dir()
        and (git_dir / "objects").is_dir()
        and not (git_dir / "reftable").exists()
    )
