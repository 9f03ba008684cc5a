"""Which argv runs a shell script: the ``-c`` script of ``sh``, ``/bin/bash -ec``, ``env sh -c``."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"})
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")


def shell_script_index(words: Sequence[str | None]) -> int | None:
    """Index of the ``-c`` script in argv ``words`` that start a shell (``sh -c``, ``/bin/bash
    -ec``, ``env sh -c``), or None. A word holding an expression is None: it is never taken for
    the program or an option, so it ends the options."""
    i = _program_index(words)
    if i is None:
        return None
    command = False
    i += 1
    while i < len(words):
        word = words[i]
        if word is None or word == "--" or word[:1] not in "-+" or len(word) < 2:
            i += word == "--"
            break
        if word in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 1
        elif word[0] == "-" and word[1] != "-" and "c" in word:
            command = True
        i += 1
    return i if command and i < len(words) else None


def runs_shell(program: str) -> bool:
    """Whether ``program`` (a name or a path) is a shell or ``env``."""
    return posixpath.basename(program) in SHELLS | {"env"}


def _program_index(words: Sequence[str | None]) -> int | None:
    i = 0
    if words and words[0] is not None and posixpath.basename(words[0]) == "env":
        i = 1
        while i < len(words) and (word := words[i]) is not None:
            if word in ("-u", "--unset", "-C", "--chdir"):
                i += 1
            elif not (word.startswith("-") or ASSIGNMENT.match(word)):
                break
            i += 1
    if i + 1 < len(words) and posixpath.basename(words[i] or "") == "busybox":
        i += 1  # busybox sh -c …
    if i < len(words) and (word := words[i]) is not None and posixpath.basename(word) in SHELLS:
        return i
    return None
