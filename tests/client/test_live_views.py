"""The terminal views the CLI shows while it follows a server's operation."""

from __future__ import annotations

from nestr.events import Event


def test_the_assembly_bar_grows_with_repos_a_server_starts() -> None:
    """A remote assembly's target names no repos before the server starts it: the bar's total
    grows as repos start, so it ends full rather than past its end."""
    from nestr.cli.commands.assemble import _Live

    live = _Live(0)
    for repo in ("api", "web"):
        live(Event("nestr.workspace.repo.started", repo=repo))
    for repo in ("api", "web"):
        live(Event("nestr.workspace.repo.checked_out", {"status": "cloned"}, repo=repo))
    task = live.progress.tasks[0]
    assert (task.completed, task.total) == (2, 2)
