"""Property: whatever happens between syncs, a sync never loses a local edit.

Two layers run the same random histories of source edits, source renames, local edits (on the
same or other lines than the source's), local inserts, deletes and renames, and syncs (with and
without commits, conflicts skipped or written with markers, with and without ``--adopt`` of
files the repo made itself, e.g. by a local rename onto a name the source uses):

* ``test_no_lost_edits_in_memory`` drives the pure planner (``decide``/``settle``) with a real
  ``git merge-file`` in one reusable directory and an in-memory repo and lock; commits make no
  difference there. 1,000 examples in CI (``CI`` set), 200 locally, derandomized.
* ``test_no_lost_edits_in_real_repos`` runs fewer examples through ``apply_sync`` on a real
  clone, committing when the history says so.

After every sync, each local edit (a unique ``L<n>`` token present before the sync, or a local
deletion) is still there, or the file is byte-for-byte untouched and reported as a conflict.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.sync.sync_helpers import Fleet

from nestr.sync import ApplyOptions, ConflictMode, apply_sync
from nestr.sync.content import blob_id
from nestr.sync.objects import merge_texts_sync
from nestr.sync.planner import Action, FileInputs, Policy, Record, decide, needs_base, settle

FILES = ("a.cfg", "b.cfg", "c.cfg")
LINES = 16
RULES = {"sources": [{"path": "shared"}], "rules": [{"files": ["*.cfg"], "delete": True}]}

Op = tuple[str, Any, Any]
_SOURCE_EDIT = st.tuples(st.just("source_edit"), st.sampled_from(FILES), st.integers(0, LINES - 1))
_LOCAL_EDIT = st.tuples(st.just("local_edit"), st.sampled_from(FILES), st.integers(0, LINES - 1))
_SYNC = st.tuples(st.just("sync"), st.booleans(), st.tuples(st.booleans(), st.booleans()))
# Edits are listed five times (syncs twice) so histories are mostly edits between syncs:
# that is where merges and conflicts come from.
OPS = st.one_of(
    *[_SOURCE_EDIT, _LOCAL_EDIT] * 5,
    *[_SYNC] * 2,
    st.tuples(st.just("source_rename"), st.sampled_from(FILES), st.sampled_from(FILES)),
    st.tuples(st.just("local_insert"), st.sampled_from(FILES), st.integers(0, LINES - 1)),
    st.tuples(st.just("local_delete"), st.sampled_from(FILES), st.just(0)),
    st.tuples(st.just("local_rename"), st.sampled_from(FILES), st.sampled_from(FILES)),
)
HISTORIES = st.lists(OPS, min_size=1, max_size=20)


class World(Protocol):
    def source(self) -> dict[str, bytes]: ...
    def set_source(self, name: str, data: bytes | None) -> None: ...
    def target(self, name: str) -> bytes | None: ...
    def set_target(self, name: str, data: bytes | None) -> None: ...
    def sync(self, *, commit: bool, markers: bool, adopt: bool) -> dict[str, str]: ...


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


class _Tokens:
    def __init__(self) -> None:
        self.count = 0

    def next(self, kind: str) -> bytes:
        self.count += 1
        return f"{kind}{self.count} edited\n".encode()


def _local_tokens(data: bytes | None) -> set[bytes]:
    if data is None:
        return set()
    return {line.split()[0] for line in _lines(data) if line.startswith(b"L")}


def _step(world: World, op: Op, tokens: _Tokens) -> None:
    kind, a, b = op
    if kind == "source_edit" and a in world.source():
        lines = _lines(world.source()[a])
        lines[b % len(lines)] = tokens.next("S")
        world.set_source(a, b"".join(lines))
    elif kind == "source_rename" and a in world.source() and b not in world.source():
        data = world.source()[a]
        world.set_source(a, None)
        world.set_source(b, data)
    elif kind in {"local_edit", "local_insert"} and world.target(a) is not None:
        lines = _lines(world.target(a) or b"")
        if kind == "local_edit" and lines:
            lines[b % len(lines)] = tokens.next("L")
        else:
            lines.insert(b % (len(lines) + 1), tokens.next("L"))
        world.set_target(a, b"".join(lines))
    elif kind == "local_delete":
        world.set_target(a, None)
    elif kind == "local_rename" and world.target(a) is not None and world.target(b) is None:
        world.set_target(b, world.target(a))
        world.set_target(a, None)
    elif kind == "sync":
        _checked_sync(world, commit=a, markers=b[0], adopt=b[1])


def _checked_sync(world: World, *, commit: bool, markers: bool, adopt: bool = False) -> None:
    before = {name: world.target(name) for name in FILES}
    done = world.sync(commit=commit, markers=markers, adopt=adopt)
    for name in FILES:
        after = world.target(name)
        if before[name] is None:
            # A file the repo deleted stays deleted unless nestr never managed it (create).
            assert after is None or done.get(name) == "create", (name, done)
            continue
        kept = _local_tokens(before[name]) <= _local_tokens(after)
        untouched = after == before[name]
        assert kept or (untouched and done.get(name) == "conflict"), (name, done, before, after)
        if done.get(name) == "conflict" and not markers:
            assert untouched, (name, done)


def _run(world: World, history: list[Op]) -> None:
    tokens = _Tokens()
    _checked_sync(world, commit=False, markers=False)  # the fleet starts synced
    for op in history:
        _step(world, op, tokens)
    _checked_sync(world, commit=False, markers=False)


def _initial_source() -> dict[str, bytes]:
    return {
        name: b"".join(f"{name} line {i}\n".encode() for i in range(LINES)) for name in FILES[:2]
    }


class MemoryWorld:
    """An in-memory repo and lock around the pure planner and a real ``git merge-file``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._source = _initial_source()
        self.files: dict[str, bytes] = {}
        self.lock: dict[str, bytes] = {}  # dest -> base content (the object database)

    def source(self) -> dict[str, bytes]:
        return dict(self._source)

    def set_source(self, name: str, data: bytes | None) -> None:
        if data is None:
            self._source.pop(name, None)
        else:
            self._source[name] = data

    def target(self, name: str) -> bytes | None:
        return self.files.get(name)

    def set_target(self, name: str, data: bytes | None) -> None:
        if data is None:
            self.files.pop(name, None)
        else:
            self.files[name] = data

    def sync(self, *, commit: bool, markers: bool, adopt: bool) -> dict[str, str]:
        done = {}
        for name in sorted(set(self._source) | set(self.lock)):
            done[name] = self._sync_one(name, markers=markers, adopt=adopt)
        return done

    def _sync_one(self, name: str, *, markers: bool, adopt: bool) -> str:
        base = self.lock.get(name)
        inputs = FileInputs(
            policy=Policy.MERGE,
            source=self._source.get(name),
            target=self.files.get(name),
            base_id=blob_id(base) if base is not None else None,
            delete=True,
            adopt=adopt,
        )
        if needs_base(inputs):
            inputs = FileInputs(**{**inputs.__dict__, "base": base})
        decision = decide(inputs)
        if decision.merge_needed:
            assert decision.merge_base is not None
            assert inputs.target is not None
            assert inputs.source is not None
            outcome = merge_texts_sync(
                decision.merge_base, inputs.target, inputs.source, workdir=self.workdir
            )
            decision = settle(decision, outcome)
        record = decision.record
        if decision.action in {Action.CREATE, Action.UPDATE, Action.MERGE, Action.DELETE}:
            self.set_target(name, decision.content)
        elif decision.action is Action.CONFLICT and markers and decision.markers is not None:
            self.set_target(name, decision.markers)
            record = Record.SOURCE
        if record is Record.SOURCE:
            self.lock[name] = self._source[name]
        elif record is Record.DROP:
            self.lock.pop(name, None)
        return str(decision.action)


EXAMPLES = 1000 if os.environ.get("CI") else 200


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(history=HISTORIES)
def test_no_lost_edits_in_memory(history: list[Op]) -> None:
    """Over random histories, the planner with git merge-file never loses a local edit."""
    with tempfile.TemporaryDirectory(prefix="nestr-prop-") as tmp:
        _run(MemoryWorld(Path(tmp)), history)


class RepoWorld:
    """A real clone synced by ``apply_sync`` from a real source directory."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.repo = fleet.repo("api")
        for name, data in _initial_source().items():
            self.set_source(name, data)

    def source(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.fleet.shared.glob("*.cfg")}

    def set_source(self, name: str, data: bytes | None) -> None:
        self.fleet.source({name: data})

    def target(self, name: str) -> bytes | None:
        path = self.repo / name
        return path.read_bytes() if path.exists() else None

    def set_target(self, name: str, data: bytes | None) -> None:
        path = self.repo / name
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)

    def sync(self, *, commit: bool, markers: bool, adopt: bool) -> dict[str, str]:
        mode = ConflictMode.MARKERS if markers else ConflictMode.SKIP
        result = asyncio.run(
            apply_sync(
                self.fleet.manifest(RULES),
                self.fleet.workspace,
                options=ApplyOptions(conflicts=mode, commit=commit),
                adopt=adopt,
                jobs=1,
            )
        )
        [repo] = result.repos
        assert repo.error is None, repo.error
        return {f.path: str(f.action) for f in repo.plan.files}


def test_no_lost_edits_in_real_repos(fleet: Callable[..., Fleet], tmp_path: Path) -> None:
    """The same property through apply_sync on a real clone, with commits (fewer examples)."""
    counter = iter(range(10_000))

    @settings(max_examples=12, derandomize=True, deadline=None, database=None)
    @given(history=HISTORIES)
    def check(history: list[Op]) -> None:
        built = fleet(["api"], root=tmp_path / f"ex{next(counter)}")
        _run(RepoWorld(built), history)

    check()
