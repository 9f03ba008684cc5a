"""The session object any face builds: its correlation, its lazily opened store, its close."""

from __future__ import annotations

from pathlib import Path

from nestr.config.settings import Settings
from nestr.events import Event
from nestr.observability.context import correlation, current_correlation_id
from nestr.session import Session


def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", state_dir=tmp_path / "state")


def test_operations_run_in_the_sessions_correlation(tmp_path: Path) -> None:
    """A given id is kept; without one the session joins the action it is built in; each
    operation's body sees the session's id, whatever the caller's context is."""
    given = Session(settings(tmp_path), cwd=tmp_path, correlation_id="given-1")
    assert given.correlation_id == "given-1"
    with correlation("outer-2"):
        joined = Session(settings(tmp_path), cwd=tmp_path)
    assert joined.correlation_id == "outer-2"
    with correlation("elsewhere"), given.action():
        assert current_correlation_id() == "given-1"
    fresh = Session(settings(tmp_path), cwd=tmp_path)
    assert fresh.correlation_id not in {None, "given-1", "outer-2"}


def test_store_opens_on_first_use_and_once(tmp_path: Path) -> None:
    """No database file until the bus is used; the bus and the store share one connection;
    close() closes it, and a later use opens a new one."""
    with Session(settings(tmp_path), cwd=tmp_path) as session:
        db_file = tmp_path / "state" / "nestr.db"
        assert not db_file.exists()
        bus = session.bus
        assert session.bus is bus
        event = bus.publish(Event("nestr.test.happened", {"n": 1}))
        assert event.seq == 1
        assert db_file.exists()
        assert [e.type for e in session.events()] == ["nestr.test.happened"]
    reopened = Session(settings(tmp_path), cwd=tmp_path)
    assert [e.data for e in reopened.events(type_prefix="nestr.test")] == [{"n": 1}]
    reopened.close()
    reopened.close()  # closing twice is harmless
