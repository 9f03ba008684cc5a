"""``nestr.v1.SyncService``: plan and apply shared files across the repos of a workspace.

The messages carry what ``nestr sync plan --json`` and ``nestr sync apply --json`` print: the
dictionaries of :mod:`nestr.sync.model` and :mod:`nestr.sync.results` are converted, so the
two faces cannot drift apart. Apply runs in the call (it ends when the files are written) and
its events go to the session's bus, in the call's correlation, so subscribers see what it
changed and which call changed it.

Conflicts are a result, not an error: a call that left conflicts ends OK with ``conflicts`` set
and ``exit_code`` 3 (the CLI's exit code), because the rest of the work was done and the client
needs the per-file result to resolve them. Likewise a repo that could not be synced carries its
error in its ``SyncRepo``. Only a selection that cannot be made (a bad manifest, an unknown
repo or group) fails the call, through :mod:`nestr.server.errors`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.errors import UsageError
from nestr.server._proto import sync_pb2 as pb
from nestr.server._proto import sync_pb2_grpc as pb_grpc
from nestr.server.acting import acting_session
from nestr.server.errors import Context, mapped

if TYPE_CHECKING:
    from nestr.session import Session, Target
    from nestr.sync import ApplyOptions

CONFLICT_MODES = ("skip", "markers")


class SyncService(pb_grpc.SyncServiceServicer):
    """Plans and applies sync with ``session`` on workspaces of the server's machine."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @mapped
    async def Plan(self, request: pb.PlanRequest, context: Context) -> pb.PlanResponse:
        selection = request.selection
        plan = await acting_session(self.session).sync_plan(
            self._target(selection), adopt=selection.adopt, jobs=selection.jobs or None
        )
        shown = plan.to_dict(diff=request.diff)
        return pb.PlanResponse(**_result_fields(shown), exit_code=plan.exit_code())

    @mapped
    async def Apply(self, request: pb.ApplyRequest, context: Context) -> pb.ApplyResponse:
        selection = request.selection
        options = _options(request)  # checked before the target: no work on bad options
        session = acting_session(self.session)
        result = await session.sync_apply(
            self._target(selection, session, "sync.apply"),
            options=options,
            adopt=selection.adopt,
            jobs=selection.jobs or None,
        )
        return pb.ApplyResponse(**_result_fields(result.to_dict()), exit_code=result.exit_code())

    def _target(
        self, selection: pb.SyncSelection, session: Session | None = None, action: str | None = None
    ) -> Target:
        """The workspace, its full manifest (sync rules included) and the selected repos, as
        ``nestr sync`` finds them, from the server's working directory (``action``: the
        mutating action they are for, recorded by ``session`` if they cannot be found)."""
        return (session or self.session).target(
            manifest=self._path(selection.manifest),
            workspace=self._path(selection.workspace),
            groups=tuple(selection.groups),
            names=tuple(selection.repos),
            repos_only=False,
            action=action,
        )

    def _path(self, text: str) -> Path | None:
        """A path a client gave, on this machine; relative: to the server's directory."""
        return self.session.cwd / text if text else None


def _options(request: pb.ApplyRequest) -> ApplyOptions:
    """The apply options of ``request``, checked as the CLI's options are."""
    from nestr.sync import ApplyOptions, ConflictMode
    from nestr.sync.apply import DEFAULT_MESSAGE

    mode = request.conflicts or "skip"
    if mode not in CONFLICT_MODES:
        raise UsageError(
            f"Apply: conflicts {mode!r} is not one of {', '.join(CONFLICT_MODES)}",
            hint="skip leaves conflicting files untouched; markers writes both sides",
        )
    return ApplyOptions(
        conflicts=ConflictMode(mode),
        commit=request.commit,
        branch=request.branch or None,
        message=request.message or DEFAULT_MESSAGE,
        push=request.push,
    )


def _result_fields(shown: dict[str, Any]) -> dict[str, Any]:
    """The response fields of a plan's or an apply's ``--json`` dictionary."""
    return {
        "sources_json": json.dumps(shown["sources"], separators=(",", ":"), default=str),
        "repos": [_repo_message(r) for r in shown["repos"]],
        "summary": shown["summary"],
        "conflicts": shown["conflicts"],
    }


def _repo_message(repo: dict[str, Any]) -> pb.SyncRepo:
    """The protobuf form of one repo of the ``--json`` output (keys absent from a plan's
    repo keep their defaults)."""
    error = repo["error"]
    return pb.SyncRepo(
        repo=repo["repo"],
        path=repo["path"],
        error=None if error is None else _error_message(error),
        files=[_file_message(f) for f in repo["files"]],
        lock_written=repo.get("lock_written", False),
        commit=repo.get("commit"),
        branch=repo.get("branch"),
        pushed=repo.get("pushed", False),
        not_committed=repo.get("not_committed", []),
        local_edits_committed=repo.get("local_edits_committed", []),
    )


def _error_message(error: dict[str, Any]) -> pb.SyncRepoError:
    return pb.SyncRepoError(
        message=error["message"], hint=error["hint"] or "", exit_code=error["exit_code"]
    )


def _file_message(item: dict[str, Any]) -> pb.SyncFile:
    return pb.SyncFile(
        path=item["path"],
        action=item["action"],
        policy=item["policy"],
        source=item["source"],
        source_path=item["source_path"],
        detail=item["detail"],
        diff=item.get("diff"),
        written=item.get("written", False),
        saved_blob=item.get("saved_blob"),
    )
