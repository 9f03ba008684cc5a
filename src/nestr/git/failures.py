"""What a failed git command means: the network (retry it) or a damaged repository (rebuild it).

git reports both only in its stderr text, so the classification is by message.
"""

from __future__ import annotations

import re

from nestr.errors import GitError

_TRANSIENT = re.compile(
    r"could not resolve host|connection refused|connection reset|early eof|timed out"
    r"|remote end hung up unexpectedly|temporary failure in name resolution|network is unreachable",
    re.IGNORECASE,
)
_BROKEN = re.compile(
    r"not a git repository|bad object|missing object|nonexistent object|corrupt|unable to read"
    r"|did not send all necessary objects|invalid object|loose object .* is corrupt|bad config"
    # a clone written by nestr whose HEAD commit the mirror does not have (see localclone)
    r"|a branch yet to be born",
    re.IGNORECASE,
)


def is_transient(exc: GitError) -> bool:
    """A failure worth retrying: the network, not the request, went wrong."""
    return exc.returncode is None or bool(_TRANSIENT.search(exc.stderr))


def is_broken_repo(exc: GitError) -> bool:
    """A failure that means the repository itself is damaged."""
    return bool(_BROKEN.search(exc.stderr))
