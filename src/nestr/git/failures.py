"""What a failed git command means: the network (retry it), the request or the server (fail at
once), or a damaged local repository (rebuild it).

git reports all of these only in its stderr text, so the classification is by message. Order
matters: a server that aborts on its own corrupt repository also makes the client say "early
EOF" and "the remote end hung up unexpectedly", and its ``remote:`` lines say "corrupt" — that
is neither the network nor our mirror, and retrying or rebuilding only repeats it (the same
answer four times plus a rebuild cost 41 s before a repo failed). So the deterministic answers of
a server are looked for first, and only the client's own lines can say the local repo is damaged.
"""

from __future__ import annotations

import re
from typing import Literal

from nestr.errors import GitError

FailureKind = Literal["transient", "remote", "broken", "other"]

# The server answered, and will answer the same way again.
_REMOTE = re.compile(
    r"possible repository corruption on the remote side|not our ref|unadvertised object"
    r"|repository .* not found|repository not found|does not appear to be a git repository"
    r"|repository .* does not exist|couldn't find remote ref|no such remote ref"
    r"|permission denied|access denied|authentication failed|could not read username"
    r"|returned error: 4\d\d|http 4\d\d",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"could not resolve host|connection refused|connection reset|connection timed out"
    r"|early eof|timed out|operation timed out|rpc failed|returned error: 5\d\d|http 5\d\d"
    r"|remote end hung up unexpectedly|temporary failure in name resolution"
    r"|network is unreachable|no route to host|broken pipe",
    re.IGNORECASE,
)
# "fatal: Could not read from remote repository." follows any ssh failure: with a network cause
# above it is transient, else (a refused key, a missing repository) it is the server's answer.
_UNREADABLE_REMOTE = re.compile(r"could not read from remote repository", re.IGNORECASE)
_BROKEN = re.compile(
    r"not a git repository|bad object|missing object|nonexistent object|corrupt|unable to read"
    r"|did not send all necessary objects|invalid object|loose object .* is corrupt|bad config"
    # a clone written by nestr whose HEAD commit the mirror does not have (see localclone)
    r"|a branch yet to be born",
    re.IGNORECASE,
)


def classify(exc: GitError) -> FailureKind:
    """``transient`` (retry), ``remote`` (the server's answer), ``broken`` (rebuild the local
    repository) or ``other`` (the request itself is wrong)."""
    if exc.returncode is None:
        return "transient"  # no answer within the timeout
    stderr = exc.stderr
    if _REMOTE.search(stderr):
        return "remote"
    if _TRANSIENT.search(stderr):
        return "transient"
    if _UNREADABLE_REMOTE.search(stderr):
        return "remote"
    if _BROKEN.search(_own_lines(stderr)):
        return "broken"
    return "other"


def is_transient(exc: GitError) -> bool:
    """A failure worth retrying: the network, not the request or the server, went wrong."""
    return classify(exc) == "transient"


def is_broken_repo(exc: GitError) -> bool:
    """A failure that means the local repository itself is damaged (not the server's)."""
    return classify(exc) == "broken"


def _own_lines(stderr: str) -> str:
    """stderr without the lines the server sent (``remote: …``)."""
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("remote:"))
