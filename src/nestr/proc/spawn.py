"""Starting one child: its own session, stdin from /dev/null, output on pipes, a marked env.

Every child gets the mark of the helper that ends its group if nestr dies
(:func:`nestr.proc.groups.marked`) and the correlation id of the action that started it
(:func:`nestr.observability.context.child_env`), so what it does joins that action's events
and logs.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from nestr.observability.context import child_env
from nestr.proc.groups import marked

# Read ends by stream name -> (read end, write end); a merged child has only ``stdout``.
Pipes = dict[str, tuple[int, int]]


def child_environ(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` as a child is started with: the helper's mark and the action's correlation id."""
    full = marked(env)
    full.update(child_env())
    return full


def spawn(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], pipes: Pipes
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session writing to ``pipes``; the write ends are closed here
    (the child holds its copies, so end of file comes when it and its children are done)."""
    found = _found(command[0], env)
    full = child_environ(env)
    try:
        try:
            return _popen(command, found, cwd, full, pipes)
        except OSError:
            if found is None:
                raise
            # The file found cannot be run (e.g. an executable file that is no program): the
            # child's own search goes on to the next on PATH instead, so let it search.
            return _popen(command, None, cwd, full, pipes)
    finally:
        for _, write_end in pipes.values():
            os.close(write_end)


def _popen(
    command: Sequence[str],
    executable: str | None,
    cwd: Path,
    env: dict[str, str],
    pipes: Pipes,
) -> subprocess.Popen[bytes]:
    # Our own pipes rather than subprocess.PIPE: only their fds are used, so Popen need not
    # wrap each in a file object.
    stdout = pipes["stdout"][1]
    return subprocess.Popen(
        command,
        executable=executable,
        cwd=cwd,
        env=env,
        stdin=_devnull(),
        stdout=stdout,
        stderr=pipes["stderr"][1] if "stderr" in pipes else stdout,
        start_new_session=True,
    )


def _found(name: str, env: Mapping[str, str]) -> str | None:
    """The file ``name`` runs from, as the child's search of ``PATH`` would find it; None lets
    the child search (a name with a slash, or a relative ``PATH`` entry before the file: it
    means a directory under the child's cwd).

    The child searches by trying ``execve`` in each directory in turn, and the parent waits for
    it (vfork) through every failed try; ``access`` is cheaper than a failed ``execve``.
    """
    if "/" in name:
        return None
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        if not directory.startswith("/"):
            return None
        path = f"{directory}/{name}"
        if os.access(path, os.X_OK) and _is_file(path):
            return path
    return None  # not found: the child's own search reports it


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)  # noqa: PTH116 - no Path per candidate
    except OSError:
        return False


_DEVNULL: int | None = None


def _devnull() -> int:
    """A descriptor of /dev/null for children's stdin, opened once rather than per start."""
    global _DEVNULL  # noqa: PLW0603 - one descriptor per process
    if _DEVNULL is None:
        _DEVNULL = os.open(os.devnull, os.O_RDWR)  # as subprocess.DEVNULL opens it
    return _DEVNULL
