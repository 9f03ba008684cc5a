"""The pure decision for one file, with plain data: every action and what gets recorded."""

from __future__ import annotations

import pytest

from nestr.sync import blocks
from nestr.sync.content import blob_id, detect_eol, is_binary, normalize, with_eol
from nestr.sync.planner import (
    Action,
    FileInputs,
    MergeOutcome,
    Policy,
    Record,
    decide,
    needs_base,
    settle,
    shared_lines,
)

B, S, T = b"base\n", b"source\n", b"target\n"


def _in(source: bytes | None, target: bytes | None, base: bytes | None, **kw: object) -> FileInputs:
    values: dict[str, object] = {"policy": Policy.MERGE, **kw}
    return FileInputs(
        source=source,
        target=target,
        base_id=blob_id(base) if base is not None else None,
        base=base,
        **values,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("inputs", "action", "record"),
    [
        (_in(S, None, None), Action.CREATE, Record.SOURCE),
        (_in(S, S, None), Action.UNCHANGED, Record.SOURCE),
        (_in(S, T, None), Action.ADOPT_REFUSED, Record.NONE),
        (_in(S, B, B), Action.UPDATE, Record.SOURCE),
        (_in(B, B, B), Action.UNCHANGED, Record.SOURCE),
        (_in(B, T, B), Action.KEEP_LOCAL, Record.KEEP),
        (_in(S, S, B), Action.UNCHANGED, Record.SOURCE),
        (_in(S, None, B), Action.SKIP_DELETED, Record.KEEP),
        (_in(None, B, B, delete=True), Action.DELETE, Record.DROP),
        (_in(None, T, B, delete=True), Action.KEEP_LOCAL, Record.DROP),
        (_in(None, B, B), Action.KEEP_LOCAL, Record.DROP),
        (_in(None, None, B, delete=True), Action.DELETE, Record.DROP),
        (_in(S, T, B, policy=Policy.OVERWRITE), Action.UPDATE, Record.SOURCE),
        (_in(S, None, B, policy=Policy.OVERWRITE), Action.CREATE, Record.SOURCE),
        (_in(S, T, None, policy=Policy.OVERWRITE), Action.ADOPT_REFUSED, Record.NONE),
        (_in(S, T, None, policy=Policy.OVERWRITE, adopt=True), Action.UPDATE, Record.SOURCE),
        (_in(S, None, None, policy=Policy.CREATE_ONLY), Action.CREATE, Record.SOURCE),
        (_in(S, T, None, policy=Policy.CREATE_ONLY), Action.UNCHANGED, Record.NONE),
        (_in(S, T, B, policy=Policy.CREATE_ONLY), Action.UNCHANGED, Record.KEEP),
        (_in(S, None, B, policy=Policy.CREATE_ONLY), Action.SKIP_DELETED, Record.KEEP),
    ],
)
def test_decisions(inputs: FileInputs, action: Action, record: Record) -> None:
    """Each combination of source, target and base leads to its documented action."""
    decision = decide(inputs)
    assert (decision.action, decision.record) == (action, record)
    assert not decision.merge_needed
    if action in {Action.CREATE, Action.UPDATE}:
        assert decision.content == inputs.source


def test_both_changed_asks_for_a_merge_and_settles() -> None:
    """Both sides changed: a merge is asked for; clean → merge (source recorded), else conflict."""
    inputs = _in(S, T, B)
    assert needs_base(inputs)
    decision = decide(inputs)
    assert decision.merge_needed
    assert decision.merge_base == B
    clean = settle(decision, MergeOutcome(b"merged\n", 0))
    assert (clean.action, clean.record, clean.content) == (Action.MERGE, Record.SOURCE, b"merged\n")
    bad = settle(decision, MergeOutcome(b"<<<<<<<\n", 2))
    assert (bad.action, bad.record, bad.content) == (Action.CONFLICT, Record.KEEP, None)
    assert bad.markers == b"<<<<<<<\n"
    assert bad.detail == "2 overlapping changes"


def test_missing_base_is_a_conflict() -> None:
    """When the base blob cannot be read, both-changed files conflict."""
    inputs = FileInputs(Policy.MERGE, source=S, target=T, base_id="0" * 40, base=None)
    decision = decide(inputs)
    assert decision.action is Action.CONFLICT
    assert decision.record is Record.KEEP


def test_binary_changed_on_both_sides_is_a_conflict() -> None:
    """Binaries are never merged."""
    decision = decide(_in(b"\0s", b"\0t", b"\0b"))
    assert decision.action is Action.CONFLICT
    assert not decision.merge_needed


def test_adopt_merges_on_the_shared_lines() -> None:
    """--adopt asks for a merge based on the lines both texts share; nothing is recorded yet."""
    decision = decide(_in(b"a\nlocal\nb\n", b"a\nb\nsrc\n", None, adopt=True))
    assert decision.merge_needed
    assert decision.merge_base == b"a\nb\n"
    assert decision.record is Record.NONE
    assert shared_lines(b"x\n", b"y\n") == b""


def test_needs_base_only_when_both_changed() -> None:
    """The base is fetched only when neither side equals it."""
    assert not needs_base(_in(S, B, B))
    assert not needs_base(_in(B, T, B))
    assert not needs_base(_in(S, S, B))
    assert not needs_base(_in(S, T, None))


def test_content_helpers() -> None:
    """Line endings normalise and come back; binaries are left alone; ids match git's."""
    assert normalize(b"a\r\nb\r\n") == b"a\nb\n"
    assert with_eol(b"a\nb\n", "crlf") == b"a\r\nb\r\n"
    assert with_eol(b"a\r\nb\n", "crlf") == b"a\r\nb\r\n"
    assert detect_eol(b"a\r\n") == "crlf"
    assert is_binary(b"x\0y")
    assert normalize(b"\0\r\n") == b"\0\r\n"
    assert blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_blocks_splice_find_and_remove() -> None:
    """A block is appended when absent, replaced in place, and removed with its markers."""
    text = blocks.splice("keep\n", "x.md", "id", "one\n")
    assert (
        text
        == "keep\n<!-- >>> nestr managed: id >>> -->\none\n<!-- <<< nestr managed: id <<< -->\n"
    )
    split = blocks.find_block(text, "x.md", "id")
    assert split is not None
    assert split.body == "one\n"
    again = blocks.splice(text + "tail\n", "x.md", "id", "two")
    assert again.endswith("two\n<!-- <<< nestr managed: id <<< -->\ntail\n")
    assert blocks.remove_block(again, "x.md", "id") == "keep\ntail\n"
    assert blocks.comment_style("main.go") == ("//", "")
    assert blocks.comment_style("Dockerfile") == ("#", "")
