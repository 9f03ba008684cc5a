"""The pure heart of sync: three versions of one file in, one action out.

For every managed file nestr knows three contents: the **source** (what the rule renders now),
the **base** (what nestr wrote last time, recorded in ``.nestr/sync.lock`` by git blob id) and
the **target** (what the repo has now). Which of them differ decides the action; when both sides
changed, a 3-way merge (``git merge-file``, run by the caller through :mod:`nestr.sync.objects`)
settles it with :func:`settle`. Nothing here touches the disk or git, so every rule is testable
with plain data.

The invariant: nestr never replaces text the repo changed since the last sync, except under the
``overwrite`` policy the user chose on purpose. Contents are LF-normalised (binaries raw).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from nestr.sync.content import blob_id, is_binary


class Action(StrEnum):
    """What sync does (or would do) to one file of one repo."""

    CREATE = "create"  # the file is new in the target
    UPDATE = "update"  # the target is unmodified since the last sync; take the new source
    UNCHANGED = "unchanged"  # the target already holds the source
    KEEP_LOCAL = "keep-local"  # only the target changed: its edit stays
    MERGE = "merge"  # both changed on different lines: clean 3-way merge
    CONFLICT = "conflict"  # both changed and overlap (or a base/binary cannot be merged)
    ADOPT_REFUSED = "adopt-refused"  # a file nestr never wrote is in the way
    DELETE = "delete"  # removed from the source and unmodified in the target
    SKIP_DELETED = "skip-deleted"  # the repo deleted it: the deletion stays


class Policy(StrEnum):
    """How a rule treats the files it manages."""

    MERGE = "merge"
    OVERWRITE = "overwrite"
    CREATE_ONLY = "create-only"
    MANAGED_BLOCK = "managed-block"


class Record(StrEnum):
    """What happens to the file's entry in the lock when the action is carried out."""

    SOURCE = "source"  # record the source as the new base
    KEEP = "keep"  # leave the entry as it is
    DROP = "drop"  # forget the file
    NONE = "none"  # there is no entry, and none is made


WRITES = frozenset({Action.CREATE, Action.UPDATE, Action.MERGE})


@dataclass(frozen=True)
class FileInputs:
    """Everything the decision needs about one file, contents LF-normalised."""

    policy: Policy
    source: bytes | None  # None: no longer in the source
    target: bytes | None  # None: missing in the target
    base_id: str | None  # blob id in the lock; None: never synced
    base: bytes | None = None  # content of base_id, when needed (see needs_base) and found
    delete: bool = False  # the rule deletes files removed from the source
    adopt: bool = False  # take over files nestr never wrote (merge on their shared lines)


@dataclass(frozen=True)
class Decision:
    """An action, the content to write for it, and what to record.

    ``merge_needed`` means the caller must run a 3-way merge of (``base``, ``target``,
    ``source``) and pass the outcome to :func:`settle`.
    """

    action: Action
    record: Record
    content: bytes | None = None  # what to write (create/update/merge), or None
    markers: bytes | None = None  # the conflict-marked text (conflict, text files only)
    detail: str = ""
    merge_needed: bool = False
    merge_base: bytes | None = None


@dataclass(frozen=True)
class MergeOutcome:
    """What ``git merge-file -p`` produced: the text and how many conflicts it holds."""

    content: bytes
    conflicts: int


def needs_base(inputs: FileInputs) -> bool:
    """Whether deciding requires the base content (both sides changed since the last sync)."""
    source, target, base_id = inputs.source, inputs.target, inputs.base_id
    if base_id is None or source is None or target is None or source == target:
        return False
    return blob_id(source) != base_id and blob_id(target) != base_id


def decide(inputs: FileInputs) -> Decision:
    """The action for one file (may ask for a merge: see :class:`Decision`)."""
    if inputs.source is None:
        return _removed_from_source(inputs)
    if inputs.policy is Policy.CREATE_ONLY:
        return _create_only(inputs)
    if inputs.base_id is None:
        return _never_synced(inputs)
    if inputs.target is None:
        if inputs.policy is Policy.OVERWRITE:
            return Decision(Action.CREATE, Record.SOURCE, inputs.source, detail="recreated")
        return Decision(Action.SKIP_DELETED, Record.KEEP, detail="deleted in the repo")
    return _recorded(inputs)


def _removed_from_source(inputs: FileInputs) -> Decision:
    if inputs.base_id is None:  # pragma: no cover - callers only ask about recorded files
        return Decision(Action.UNCHANGED, Record.NONE)
    if inputs.target is None:
        return Decision(Action.DELETE, Record.DROP, detail="already gone")
    unmodified = blob_id(inputs.target) == inputs.base_id
    if inputs.delete and unmodified:
        return Decision(Action.DELETE, Record.DROP, detail="removed from the source")
    why = "modified in the repo" if inputs.delete else "delete is off"
    return Decision(Action.KEEP_LOCAL, Record.DROP, detail=f"removed from the source; {why}")


def _create_only(inputs: FileInputs) -> Decision:
    if inputs.target is not None:
        record = Record.KEEP if inputs.base_id is not None else Record.NONE
        return Decision(Action.UNCHANGED, record, detail="create-only: exists")
    if inputs.base_id is not None:
        return Decision(Action.SKIP_DELETED, Record.KEEP, detail="deleted in the repo")
    return Decision(Action.CREATE, Record.SOURCE, inputs.source)


def _never_synced(inputs: FileInputs) -> Decision:
    source, target = inputs.source, inputs.target
    assert source is not None
    if target is None:
        return Decision(Action.CREATE, Record.SOURCE, source)
    if target == source:
        return Decision(Action.UNCHANGED, Record.SOURCE, detail="adopted: identical")
    if not inputs.adopt:
        return Decision(
            Action.ADOPT_REFUSED,
            Record.NONE,
            detail="exists and was not written by nestr (use --adopt)",
        )
    if inputs.policy is Policy.OVERWRITE:
        return Decision(Action.UPDATE, Record.SOURCE, source, detail="adopted: overwritten")
    # Adopting merges against the lines both texts already share (in order): neither side
    # deleted anything from that base, so a clean merge keeps every line of both, and text that
    # differs in the same place is a conflict. Nothing of the existing file can vanish.
    base = shared_lines(target, source) if not is_binary(target) else b""
    return _merge_or_conflict(replace(inputs, base=base), adopting=True)


def shared_lines(a: bytes, b: bytes) -> bytes:
    """The lines ``a`` and ``b`` have in common, in order (a longest matching subsequence)."""
    import difflib

    left, right = a.splitlines(keepends=True), b.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    return b"".join(
        b"".join(left[block.a : block.a + block.size]) for block in matcher.get_matching_blocks()
    )


def _recorded(inputs: FileInputs) -> Decision:
    source, target, base_id = inputs.source, inputs.target, inputs.base_id
    assert source is not None
    assert target is not None
    if target == source:
        return Decision(Action.UNCHANGED, Record.SOURCE)
    target_clean = blob_id(target) == base_id
    if target_clean or inputs.policy is Policy.OVERWRITE:
        detail = "" if target_clean else "local edit overwritten (policy overwrite)"
        return Decision(Action.UPDATE, Record.SOURCE, source, detail=detail)
    if blob_id(source) == base_id:
        return Decision(Action.KEEP_LOCAL, Record.KEEP, detail="changed in the repo only")
    return _merge_or_conflict(inputs, adopting=False)


def _merge_or_conflict(inputs: FileInputs, *, adopting: bool) -> Decision:
    no_entry = Record.NONE if adopting else Record.KEEP
    if any(is_binary(x) for x in (inputs.source, inputs.target, inputs.base)):
        return Decision(Action.CONFLICT, no_entry, detail="binary file changed on both sides")
    if inputs.base is None:
        return Decision(
            Action.CONFLICT, no_entry, detail=f"base {inputs.base_id} is not in the repo's objects"
        )
    return Decision(
        Action.MERGE,
        no_entry,
        merge_needed=True,
        merge_base=inputs.base,
        detail="adopted" if adopting else "",
    )


def settle(decision: Decision, outcome: MergeOutcome) -> Decision:
    """Finish a decision that asked for a merge, given what the merge produced."""
    if not decision.merge_needed:
        return decision
    if outcome.conflicts == 0:
        return replace(decision, record=Record.SOURCE, content=outcome.content, merge_needed=False)
    plural = "s" if outcome.conflicts != 1 else ""
    return replace(
        decision,
        action=Action.CONFLICT,
        markers=outcome.content,
        merge_needed=False,
        detail=f"{outcome.conflicts} overlapping change{plural}",
    )
