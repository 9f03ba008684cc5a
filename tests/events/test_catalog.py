"""The event catalogue: the docs table matches it, and every event nestr emits is in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nestr.events import catalog
from nestr.events.bus import EventBus
from nestr.events.envelope import Event
from nestr.store.eventlog import open_event_log

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
REGENERATE = (
    "regenerate it: .venv/bin/python -c 'from pathlib import Path; from nestr.events.catalog "
    'import with_table; p = Path("docs/events.md"); p.write_text(with_table(p.read_text()))\''
)


def test_docs_table_is_the_catalogue() -> None:
    """docs/events.md lists exactly the catalogued types with their data fields, in order."""
    text = DOC.read_text(encoding="utf-8")
    assert catalog.with_table(text) == text, REGENERATE


def test_names_are_unique_and_durations_are_seconds() -> None:
    """No two entries share a name, each belongs to a family, and no data shape names a
    duration anything but seconds."""
    assert len(catalog.BY_NAME) == len(catalog.CATALOG)
    families = (catalog.WORKSPACE_PREFIX, catalog.CACHE_PREFIX, catalog.SYNC_PREFIX)
    families += (catalog.WORKFLOW_PREFIX, catalog.SERVER_PREFIX)
    families += (catalog.WEBHOOK_PREFIX, catalog.PLUGIN_PREFIX)
    assert all(t.name.startswith(families) for t in catalog.CATALOG)
    keys = {key for t in catalog.CATALOG for key, _, _ in catalog.fields_of(t)}
    assert "duration" not in keys
    assert "seconds" in keys


def shape_problems(event: Event) -> list[str]:
    """What is wrong with ``event`` against the catalogue: unknown type, missing or extra keys."""
    entry = catalog.BY_NAME.get(event.type)
    if entry is None:
        return [f"{event.type} is not in the catalogue"]
    fields = catalog.fields_of(entry)
    declared = {key for key, _, _ in fields}
    required = {key for key, _, needed in fields if needed}
    problems = [f"{event.type}: missing {key}" for key in sorted(required - event.data.keys())]
    problems += [f"{event.type}: undeclared {key}" for key in sorted(event.data.keys() - declared)]
    return problems


@pytest.mark.slow
def test_every_event_of_the_demo_tour_is_catalogued(
    nestr: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Assembling, locking, foreach, a workflow run and sync (the demo tour) publish and store
    only catalogued types, each with exactly the data keys its shape declares."""
    seen: list[Event] = []
    publish = EventBus.publish

    def recording(self: EventBus, event: Event) -> Event:
        seen.append(event)
        return publish(self, event)

    monkeypatch.setattr(EventBus, "publish", recording)
    result = nestr("demo", "--dir", str(tmp_path / "demo"))
    assert result.code == 0, result.err
    log = open_event_log(tmp_path / "demo" / "state")
    try:
        stored = log.read()
    finally:
        log.close()
    assert stored
    problems = sorted({p for event in [*seen, *stored] for p in shape_problems(event)})
    assert problems == []
    types = {event.type for event in seen}
    for prefix in ("nestr.workspace.repo.", "nestr.workspace.lock.", "nestr.workspace.foreach."):
        assert any(t.startswith(prefix) for t in types), prefix
    for prefix in (catalog.RUN_PREFIX, catalog.STEP_PREFIX, "nestr.sync.file.", "nestr.sync.repo."):
        assert any(t.startswith(prefix) for t in types), prefix
