"""One destination of one repo: from source and target bytes to a :class:`FilePlan`.

:func:`prepare` reads the target, cuts out a managed block if the rule owns one, normalises
line endings and builds the planner's inputs; :func:`finish` turns the planner's decision back
into whole-file bytes (block spliced in, the target's line endings kept) and a lock entry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from nestr.errors import InputError
from nestr.sync import blocks
from nestr.sync.content import Eol, blob_id, detect_eol, is_binary, normalize, with_eol
from nestr.sync.lockfile import LockedFile
from nestr.sync.model import FilePlan
from nestr.sync.planner import Action, Decision, FileInputs, Policy, Record


@dataclass(frozen=True)
class Wanted:
    """What a rule wants at a destination (or, for an orphaned lock entry, that it is gone)."""

    dest: str
    policy: Policy
    source: str
    source_path: str
    content: bytes | None  # rendered source bytes; None: no longer in the source
    mode: int | None = None
    delete: bool = False
    block: str | None = None


@dataclass(frozen=True)
class Prepared:
    """A destination ready for the planner."""

    wanted: Wanted
    file: Path  # absolute path to read and write
    before: bytes | None  # the target file's bytes
    before_mode: int | None
    eol: Eol
    inputs: FileInputs


def wanted_from_entry(dest: str, entry: LockedFile) -> Wanted:
    """An orphaned lock entry: its file is no longer produced by any rule."""
    return Wanted(
        dest=dest,
        policy=Policy(entry.policy),
        source=entry.source,
        source_path=entry.path,
        content=None,
        mode=entry.mode,
        delete=entry.delete,
        block=entry.block,
    )


def safe_file(repo: Path, dest: str) -> Path:
    """The file to write for ``dest``, refused when a symlink leads it outside the repo."""
    root = repo.resolve()
    path = (repo / dest).resolve()
    if not path.is_relative_to(root) or (root / ".git") in (path, *path.parents):
        raise InputError(
            f"{dest} leads outside the repo {repo} (symlink to {path})",
            hint="remove the symlink, or change the rule's dest",
        )
    if path.is_dir():
        raise InputError(f"{dest} is a directory in {repo}", hint="change the rule's dest")
    return path


def prepare(repo: Path, wanted: Wanted, entry: LockedFile | None, *, adopt: bool) -> Prepared:
    """Read the target of ``wanted`` and build the planner's inputs."""
    file = safe_file(repo, wanted.dest)
    try:
        before: bytes | None = file.read_bytes()
        before_mode: int | None = file.stat().st_mode & 0o7777
    except FileNotFoundError:
        before, before_mode = None, None
    eol = detect_eol(before if before is not None else wanted.content or b"")
    source = normalize(wanted.content) if wanted.content is not None else None
    target = normalize(before) if before is not None else None
    if wanted.block is not None:
        target = _block_body(target, wanted)
    inputs = FileInputs(
        policy=Policy.MERGE if wanted.policy is Policy.MANAGED_BLOCK else wanted.policy,
        source=source,
        target=target,
        base_id=entry.blob if entry is not None else None,
        delete=wanted.delete,
        adopt=adopt,
    )
    return Prepared(wanted, file, before, before_mode, eol, inputs)


def _block_body(target: bytes | None, wanted: Wanted) -> bytes | None:
    if target is None:
        return None
    assert wanted.block is not None
    split = blocks.find_block(target.decode("utf-8", "surrogateescape"), wanted.dest, wanted.block)
    return split.body.encode("utf-8", "surrogateescape") if split is not None else None


def finish(prepared: Prepared, decision: Decision) -> FilePlan:
    """The :class:`FilePlan` of a settled decision."""
    wanted, source = prepared.wanted, prepared.inputs.source
    plan = FilePlan(
        path=wanted.dest,
        action=decision.action,
        policy=wanted.policy,
        record=decision.record,
        source=wanted.source,
        source_path=wanted.source_path,
        detail=decision.detail,
        before=prepared.before,
        content=_whole(prepared, decision.content, delete=decision.action is Action.DELETE),
        markers=_whole(prepared, decision.markers, delete=False),
        mode=wanted.mode,
    )
    if decision.record is Record.SOURCE or (decision.action is Action.CONFLICT and source):
        assert source is not None
        entry = LockedFile(
            blob=blob_id(source),
            source=wanted.source,
            path=wanted.source_path,
            policy=str(wanted.policy),
            mode=wanted.mode,
            delete=wanted.delete,
            block=wanted.block,
        )
        plan = replace(plan, entry=entry, base=source)
    return _mode_only(prepared, plan)


def _whole(prepared: Prepared, body: bytes | None, *, delete: bool) -> bytes | None:
    """Whole-file bytes for ``body`` (the block's body for managed blocks), in the file's EOL."""
    wanted = prepared.wanted
    if wanted.block is None:
        return None if body is None else with_eol(body, prepared.eol)
    if prepared.before is None and body is None:
        return None
    text = (
        normalize(prepared.before).decode("utf-8", "surrogateescape") if prepared.before else None
    )
    if delete:
        rest = blocks.remove_block(text or "", wanted.dest, wanted.block)
        return (
            with_eol(rest.encode("utf-8", "surrogateescape"), prepared.eol)
            if rest.strip()
            else None
        )
    if body is None:
        return None
    spliced = blocks.splice(
        text, wanted.dest, wanted.block, body.decode("utf-8", "surrogateescape")
    )
    return with_eol(spliced.encode("utf-8", "surrogateescape"), prepared.eol)


def _mode_only(prepared: Prepared, plan: FilePlan) -> FilePlan:
    """An unchanged file whose permissions differ from the rule's ``mode`` is updated."""
    mode = prepared.wanted.mode
    if plan.action is not Action.UNCHANGED or mode is None or prepared.before is None:
        return plan
    if plan.record is Record.NONE:  # not nestr's file (create-only found it there)
        return plan
    if prepared.before_mode == mode:
        return plan
    return replace(plan, action=Action.UPDATE, content=prepared.before, detail=f"mode 0{mode:o}")


def check_binary_template(wanted: Wanted, template: bool) -> None:
    """Templates are text: refuse one whose source is binary."""
    if template and is_binary(wanted.content):
        raise InputError(f"{wanted.source_path} is binary and cannot be a template")
