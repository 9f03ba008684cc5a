"""The git credential helper nestr hands to git: ``python -m nestr.git.credential_helper``.

git runs it (``credential.<url>.helper``, set by :mod:`nestr.git.credentials`) with the action
(``get``, ``store``, ``erase``) as its last argument and the request on stdin, one ``key=value``
a line (gitcredentials(7), "Custom helpers"). Its other arguments name the one host the token is
for and the *name* of the environment variable that holds the token: the token itself is never
on a command line, in git's config or in a URL. The helper answers ``get`` only when the
request's protocol and host are exactly those; anything else gets no answer, so git asks the
next helper or fails. ``store`` and ``erase`` do nothing: nestr's tokens live in its settings.

Standard library only, and small: git starts it for each authenticated connection.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

USAGE = "usage: credential_helper HOST PROTOCOL USERNAME TOKEN_VARIABLE (get|store|erase)"


def answer(argv: Sequence[str], request: TextIO, environ: dict[str, str]) -> str:
    """What to print for one git request: ``username=…\\npassword=…\\n``, or nothing."""
    if len(argv) != 5:
        raise SystemExit(USAGE)
    host, protocol, username, variable, action = argv
    asked = _attributes(request)
    token = environ.get(variable, "")
    if action != "get" or not token:
        return ""
    if asked.get("protocol") != protocol or asked.get("host", "").lower() != host:
        return ""  # another host, or the same host over another scheme: never this token
    return f"username={username}\npassword={token}\n"


def _attributes(request: TextIO) -> dict[str, str]:
    """The request's ``key=value`` lines up to a blank line or the end."""
    found: dict[str, str] = {}
    for line in request:
        line = line.rstrip("\n")
        if not line:
            break
        key, _, value = line.partition("=")
        found[key] = value
    return found


def main() -> int:
    """Answer the request on stdin; 0 whatever happens (no answer means "I don't know")."""
    sys.stdout.write(answer(sys.argv[1:], sys.stdin, dict(os.environ)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
