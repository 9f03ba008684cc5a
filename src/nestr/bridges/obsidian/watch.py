"""Finished runs into the vault: what ``nestr obsidian note`` and ``nestr obsidian watch`` do.

The watcher is a subscriber of the durable event log like any other: each
``nestr.workflow.run.finished`` event names a run, whose record is read from the store and
written with :func:`~nestr.bridges.obsidian.journal.write_run`. A write is idempotent (lines
keyed by the run's link), so replaying events from an older ``seq`` rewrites, never duplicates.
"""

from __future__ import annotations

from pathlib import Path

from nestr.bridges.obsidian.journal import JournalLayout, Written, write_run
from nestr.bridges.obsidian.summary import run_summary
from nestr.bridges.obsidian.vault import Vault
from nestr.config.settings import ObsidianSettings
from nestr.errors import UsageError
from nestr.events.catalog import RUN_FINISHED
from nestr.events.envelope import Event
from nestr.workflow.queries import RunQueries


def open_vault(settings: ObsidianSettings, given: Path | None = None) -> Vault:
    """The vault ``given`` (a flag), else ``obsidian.vault``; a usage error when neither names
    a directory."""
    path = given or settings.vault
    if path is None:
        raise UsageError("no Obsidian vault to write to", hint="set obsidian.vault or pass --vault")
    path = path.expanduser()
    if not path.is_dir():
        raise UsageError(
            f"the Obsidian vault {str(path)!r} is not a directory",
            hint="give the folder Obsidian opens as a vault",
        )
    return Vault(path.resolve())


def layout_of(settings: ObsidianSettings) -> JournalLayout:
    return JournalLayout(settings.folder, settings.daily_folder, settings.recent_runs)


def note_run(
    queries: RunQueries,
    vault: Vault,
    layout: JournalLayout,
    run: str,
    *,
    correlation_id: str | None = None,
) -> Written:
    """Write run ``run`` (an id or a unique prefix) into ``vault``."""
    return write_run(vault, run_summary(queries, run, correlation_id=correlation_id), layout)


def note_finished(
    queries: RunQueries, vault: Vault, layout: JournalLayout, event: Event
) -> Written | None:
    """Write the run a ``run.finished`` event names; None for any other event."""
    if event.type != RUN_FINISHED.name or not event.run_id:
        return None
    return note_run(queries, vault, layout, event.run_id, correlation_id=event.correlation_id)
