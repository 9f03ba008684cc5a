"""Who acts, and the one audit record each mutating operation of a session leaves.

Every face passes through the session, so the session writes the record, once per action: the
CLI's actor is the OS user at this host, an RPC's the caller the server authenticated (the
server builds its :class:`Actor` per call). An operation runs its work inside
:meth:`Audited.recording`; the record is appended when the outcome is known — the operation's
end, or earlier through :meth:`Audited.ok` (a run is recorded once it started, not hours later
when it ends). Read-only operations record nothing.

Outcomes: ``ok``; ``refused`` — nestr declined (bad input or a state that forbids the action:
errors with exit code 2, or an operation that kept things as they were, such as a workspace
that holds local work); ``failed`` — anything else, ``error`` naming the error's class (or
what the operation reported as failed).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.errors import EXIT_USAGE, NestrError

if TYPE_CHECKING:  # what faces get from audit_records() and verify_audit()
    from nestr.store.audit import AuditRecord
    from nestr.store.auditchain import ChainReport

__all__ = ["Actor", "AuditRecord", "Audited", "ChainReport", "repos_target"]

REPOS_SHOWN = 20  # a target names at most this many repos, and counts them all


@dataclass(frozen=True)
class Actor:
    """Who acts: ``name`` (``alice@build-1``, ``cert:CN=ci``, ``token:1f2e3d4c5b6a``,
    ``anonymous``), through which ``face`` (``cli``, ``grpc``, ``server``, ``library``), from
    which ``peer`` (an RPC's client address)."""

    name: str
    face: str
    peer: str | None = None

    @classmethod
    def local(cls, face: str = "library") -> Actor:
        """The OS user of this process at this host."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry and no $USER: a bare container uid
            user = f"uid{os.getuid()}"
        return cls(f"{user}@{socket.gethostname()}", face)


Write = Callable[[str, Mapping[str, Any], str | None], None]  # outcome, target, error


class Audited:
    """One action's record, written exactly once (see the module docstring)."""

    def __init__(self, write: Write, target: Mapping[str, Any]) -> None:
        self._write = write
        self.target = dict(target)
        self.written = False

    def ok(self, **more: Any) -> None:
        """The action was done; ``more`` adds to its target (a run's id, what gc removed)."""
        self._record("ok", more, None)

    def refused(self, reason: str, **more: Any) -> None:
        """nestr declined the action and left things as they were."""
        self._record("refused", more, reason)

    def failed(self, error: str, **more: Any) -> None:
        """The action was attempted and reported a failure without raising."""
        self._record("failed", more, error)

    def _record(self, outcome: str, more: Mapping[str, Any], error: str | None) -> None:
        if self.written:
            return
        self.written = True
        self.target.update(more)
        self._write(outcome, self.target, error)

    @contextlib.contextmanager
    def recording(self) -> Iterator[Audited]:
        """Record the action's outcome when the block ends, unless recorded already."""
        with self.refusing():
            yield self
        self.ok()

    @contextlib.contextmanager
    def refusing(self) -> Iterator[Audited]:
        """Record the action only if the block raises: resolving what an action acts on, whose
        success is recorded by the operation that follows."""
        try:
            yield self
        except BaseException as exc:
            name = type(exc).__name__
            if isinstance(exc, NestrError) and exc.exit_code == EXIT_USAGE:
                self._record("refused", {}, name)
            else:
                self._record("failed", {}, name)
            raise


def repos_target(names: Sequence[str]) -> dict[str, Any]:
    """A repo list as a target shows it: the first names and how many there are."""
    return {"repos": list(names[:REPOS_SHOWN]), "repo_count": len(names)}


def asked(**given: Any) -> dict[str, Any]:
    """What a face asked an action to act on, before it is resolved (paths as text)."""
    return {key: _plain(value) for key, value in given.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
