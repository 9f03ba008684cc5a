"""What every operation of a session stands on: settings, the working directory, the
correlation id, and the store and durable bus, opened on first use and once.

An action that emits nothing (``status``, ``runs list``) never pays for the event log; a
long-lived face (the server) keeps one connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from nestr.observability.context import correlation
from nestr.session.audit import Actor, Audited, asked
from nestr.session.targets import Target

if TYPE_CHECKING:
    from nestr.config.loader import LoadedConfig
    from nestr.config.settings import Settings
    from nestr.events import EventBus
    from nestr.events.catalog import EventType
    from nestr.git.mirror import MirrorCache
    from nestr.manifest.importers.westimports import ProjectFiles
    from nestr.manifest.model import Manifest
    from nestr.plugins.host import PluginHost
    from nestr.store.audit import AuditRecord
    from nestr.store.auditchain import ChainReport
    from nestr.store.db import Database
    from nestr.store.eventlog import EventLog
    from nestr.workflow.queries import RunQueries
    from nestr.workflow.registry import StepRegistry


class SessionBase:
    """Settings, working directory, correlation id, who acts, and the store and bus opened on
    first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        cwd: Path,
        correlation_id: str | None = None,
        actor: Actor | None = None,
    ) -> None:
        self.settings = settings
        self.cwd = cwd
        with correlation(correlation_id) as cid:  # given, else the action's, else a new one
            self.correlation_id = cid
        # who the audit trail names: given by the face, else this process's OS user
        self.actor = actor or Actor.local()
        self._log: EventLog | None = None
        self._bus: EventBus | None = None
        self._plugins: PluginHost | None = None

    @classmethod
    def from_config(
        cls,
        config: LoadedConfig,
        *,
        cwd: Path,
        correlation_id: str | None = None,
        actor: Actor | None = None,
    ) -> Self:
        """A session over the settings of ``config``."""
        return cls(config.settings, cwd=cwd, correlation_id=correlation_id, actor=actor)

    # --- resources ----------------------------------------------------------------------

    @property
    def bus(self) -> EventBus:
        """The bus whose events are appended to the durable log before anyone sees them."""
        if self._bus is None:
            from nestr.events import EventBus

            self._bus = EventBus(sink=self._event_log())
        return self._bus

    @property
    def db(self) -> Database:
        """The store of the state dir (opened on first use, shared with the event log)."""
        return self._event_log().db

    def _event_log(self) -> EventLog:
        if self._log is None:
            from nestr.store.eventlog import open_event_log

            self._log = open_event_log(self.settings.state_dir)
        return self._log

    @property
    def queries(self) -> RunQueries:
        """Reads of runs, steps and their output (runs left running elsewhere are refreshed
        as they are read, their events on this session's bus)."""
        from nestr.workflow.queries import RunQueries

        return RunQueries(self.db, self.bus)

    @property
    def steps(self) -> StepRegistry:
        """The step types of this session's runs: entry points, then plugin processes, which
        start on first use and are stopped by :meth:`close`."""
        from nestr.plugins.host import PluginHost
        from nestr.workflow.registry import StepRegistry

        if self._plugins is None:
            configured = {p.name: p.command for p in self.settings.plugins}
            self._plugins = PluginHost(
                configured=configured,
                cwd=self.cwd,
                settings=self.settings,
                emit=self._emit_plugin_event,
            )
        return StepRegistry(providers=[self._plugins])

    def _emit_plugin_event(self, kind: EventType[Any], data: Any) -> None:
        """A plugin host's event on this session's bus (opened now if it is not yet)."""
        self.bus.emit(kind, data)

    def close(self) -> None:
        """Stop the plugins this session started, and close the store, if it was opened."""
        if self._plugins is not None:
            self._plugins.close()
            self._plugins = None
        if self._log is not None:
            self._log.close()
            self._log, self._bus = None, None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def action(self) -> contextlib.AbstractContextManager[str]:
        """The correlation every operation of this session runs in."""
        return correlation(self.correlation_id)

    # --- the audit trail -------------------------------------------------------------------

    def audited(self, action: str, target: Mapping[str, Any]) -> Audited:
        """The one audit record of ``action`` on ``target`` by this session's actor; run the
        action inside its :meth:`~nestr.session.audit.Audited.recording`."""

        def write(outcome: str, target: Mapping[str, Any], error: str | None) -> None:
            from nestr.store.audit import AuditEntry, append_record

            actor = self.actor
            entry = AuditEntry(
                actor=actor.name,
                face=actor.face,
                peer=actor.peer,
                action=action,
                target=target,
                outcome=outcome,
                error=error,
                correlation_id=self.correlation_id,
            )
            with self.db.transaction() as conn:  # BEGIN IMMEDIATE: the tail cannot move
                append_record(conn, entry)

        return Audited(write, target)

    def refusals(
        self, action: str | None, target: Mapping[str, Any]
    ) -> contextlib.AbstractContextManager[Audited | None]:
        """Record ``action`` on ``target`` if the block raises (resolving what it acts on);
        nothing for None (a read-only action)."""
        if action is None:
            return contextlib.nullcontext()
        return self.audited(action, target).refusing()

    def audit_records(
        self, *, since: str | None = None, action_prefix: str | None = None
    ) -> list[AuditRecord]:
        """Audit records from time ``since`` (ISO 8601 UTC) on, oldest first."""
        from nestr.store.audit import select_records

        with self.db.reading() as conn:
            return select_records(conn, since=since, action_prefix=action_prefix)

    def verify_audit(self, *, kept: tuple[int, str] | None = None) -> ChainReport:
        """Check the audit trail's hash chain (the first bad record, if any); ``kept``: a head
        (seq, hash) reported earlier, which must still be there."""
        from nestr.store.auditchain import verify_chain

        with self.db.reading() as conn:
            return verify_chain(conn, kept=kept)

    def _jobs(self, jobs: int | None) -> int:
        return jobs or self.settings.jobs

    # --- manifests and workspaces ------------------------------------------------------

    def manifest_path(self, *, manifest: Path | None = None) -> Path:
        """The manifest file an action that reads a manifest uses."""
        from nestr.workspace.locate import manifest_path

        return manifest_path(self.cwd, manifest)

    def manifest(self, *, manifest: Path | None = None, repos_only: bool = False) -> Manifest:
        """The manifest, loaded; ``repos_only``: from the input cache, no workflows or sync."""
        return load_manifest_file(self.manifest_path(manifest=manifest), repos_only=repos_only)

    def target(
        self,
        *,
        manifest: Path | None = None,
        workspace: Path | None = None,
        groups: Sequence[str] = (),
        names: Sequence[str] = (),
        repos_only: bool = True,
        action: str | None = None,
    ) -> Target:
        """The workspace an action on a workspace works on, its manifest, the selected repos;
        ``action``: the mutating action it is for, whose audit record a refusal here is."""
        from nestr.workspace.locate import locate

        given = asked(manifest=manifest, workspace=workspace, groups=groups, repos=names)
        with self.refusals(action, given):
            located = locate(self.cwd, manifest=manifest, workspace=workspace)
            assert located.workspace is not None  # a workspace is required here
            loaded = load_manifest_file(located.manifest_path, repos_only=repos_only)
            repos = loaded.select(groups=groups, names=names)
        return Target(located.workspace, loaded, repos, tuple(groups), tuple(names))

    def project_files(self) -> ProjectFiles:
        """Reads files of other repos (west project imports) through the mirror cache."""
        from nestr.workspace.projectfiles import MirrorProjectFiles

        return MirrorProjectFiles(self._mirrors())

    def _mirrors(self, *, offline: bool = False) -> MirrorCache:
        from nestr.git.mirror import MirrorCache

        git = self.settings.git
        return MirrorCache(
            self.settings.cache_dir,
            freshness=git.fetch_freshness,
            offline=offline,
            timeout=git.timeout,
            write_clones=git.write_clones,
        )


def load_manifest_file(path: Path, *, repos_only: bool) -> Manifest:
    """The manifest at ``path``; ``repos_only``: from the input cache, no workflows or sync."""
    if repos_only:
        from nestr.manifest.cache import load_manifest_repos

        return load_manifest_repos(path)
    from nestr.manifest.loader import load_manifest

    return load_manifest(path)
