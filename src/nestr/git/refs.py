"""Read refs of a bare repository without starting git, and what a revision names.

Resolving ``main`` in a mirror is the most frequent git call of a warm assembly; reading the loose
ref file or ``packed-refs`` answers it without a process. Anything this module cannot answer for
certain (annotated tags stored loose, abbreviated ids, symbolic refs) returns ``None`` and the
caller asks git. The same files tell which commits are ref tips, so a pinned commit that a
branch or tag points at needs neither ``cat-file`` to prove it is there nor a separate checkout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RevisionKind = Literal["branch", "tag", "commit"]
_FULL_ID = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Resolved:
    """What a manifest revision names in a mirror: its kind, full ref and commit."""

    revision: str
    kind: RevisionKind
    ref: str | None  # refs/heads/main, refs/tags/v1, or None for a commit id
    commit: str

    @property
    def short_name(self) -> str:
        """The branch or tag name without its ``refs/…/`` prefix (the commit for commits)."""
        if self.ref is None:
            return self.commit
        return self.ref.split("/", 2)[2]


def is_full_commit_id(revision: str) -> bool:
    return bool(_FULL_ID.match(revision))


def candidate_refs(revision: str) -> list[str]:
    """Full ref names a revision may mean, in the order nestr prefers (branch before tag)."""
    if revision.startswith("refs/"):
        return [revision]
    return [f"refs/heads/{revision}", f"refs/tags/{revision}"]


def extra_ref(revision: str) -> str | None:
    """The ref a revision names outside branches and tags, which mirrors fetch on demand.

    ``refs/changes/12/34/1`` is taken as written; a name with a ``/`` that is no branch or tag,
    like west's ``pull/7/head``, means ``refs/pull/7/head`` (git's own lookup, ``refs/<name>``).
    None for branches, tags, commit ids and one-word names.
    """
    if revision.startswith(("refs/heads/", "refs/tags/")) or _FULL_ID.match(revision):
        return None
    if revision.startswith("refs/"):
        return revision
    return f"refs/{revision}" if "/" in revision else None


def kind_of_ref(ref: str) -> RevisionKind:
    if ref.startswith("refs/heads/"):
        return "branch"
    if ref.startswith("refs/tags/"):
        return "tag"
    return "commit"


@dataclass(frozen=True)
class PackedRef:
    """One line of ``packed-refs``: the object a ref names and, when known, its peeled commit."""

    oid: str
    peeled: str | None = None
    peel_known: bool = False  # whether the absence of ``peeled`` means "not an annotated tag"


def parse_packed_refs(text: str) -> tuple[dict[str, PackedRef], bool]:
    """The refs of a ``packed-refs`` text, and whether every line was understood.

    The header's traits say what a ref without a ``^`` line means: ``fully-peeled``, that no
    ref names an annotated tag; ``peeled``, the same for ``refs/tags/`` only.
    """
    traits: set[str] = set()
    refs: dict[str, PackedRef] = {}
    last: str | None = None
    understood = True
    for line in text.splitlines():
        if line.startswith("# pack-refs with:"):
            traits = set(line.split(":", 1)[1].split())
        elif line.startswith("^") and last is not None and _FULL_ID.match(line[1:]):
            refs[last] = PackedRef(refs[last].oid, line[1:], True)
        elif _FULL_ID.match(line[:40]) and line[40:41] == " ":
            last = line[41:]
            known = "fully-peeled" in traits or (
                "peeled" in traits and last.startswith("refs/tags/")
            )
            refs[last] = PackedRef(line[:40], None, known)
        elif line.strip() and not line.startswith("#"):
            understood = False
    return refs, understood


def read_packed_text(git_dir: Path) -> str:
    """The text of ``packed-refs`` ("" when there is none)."""
    try:
        return (git_dir / "packed-refs").read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return ""


def read_packed_refs(git_dir: Path) -> tuple[dict[str, str], bool]:
    """``packed-refs`` as {ref: commit-or-object}, and whether every tag in it is peeled."""
    refs, _ = parse_packed_refs(read_packed_text(git_dir))
    fully_peeled = all(ref.peel_known for ref in refs.values())
    return {name: ref.peeled or ref.oid for name, ref in refs.items()}, fully_peeled


def read_commit_of_ref(git_dir: Path, ref: str) -> str | None:
    """The commit ``ref`` points to, if it can be known without git; else None."""
    loose = git_dir / ref
    if loose.is_file():
        value = loose.read_text(encoding="utf-8").strip()
        # A loose tag may point to an annotated tag object; only branches are surely commits.
        if ref.startswith("refs/heads/") and _FULL_ID.match(value):
            return value
        return None
    packed, fully_peeled = read_packed_refs(git_dir)
    if ref not in packed:
        return None
    if ref.startswith("refs/tags/") and not fully_peeled:
        return None
    return packed[ref]


def ref_exists(git_dir: Path, ref: str) -> bool:
    if (git_dir / ref).is_file():
        return True
    return ref in read_packed_refs(git_dir)[0]


def read_tips(git_dir: Path) -> dict[str, str]:
    """Every branch and tag whose commit the files state for certain: {ref: commit}.

    Loose refs override packed ones; a loose tag may name an annotated tag object, so it is
    left out (and hides its packed value), as are tags of a ``packed-refs`` that is not peeled.
    """
    packed, fully_peeled = read_packed_refs(git_dir)
    tips = {
        ref: sha
        for ref, sha in packed.items()
        if ref.startswith("refs/heads/") or (ref.startswith("refs/tags/") and fully_peeled)
    }
    for kind in ("heads", "tags"):
        base = git_dir / "refs" / kind
        for loose in base.rglob("*") if base.is_dir() else ():
            if not loose.is_file():
                continue
            ref = f"refs/{kind}/{loose.relative_to(base).as_posix()}"
            tips.pop(ref, None)
            value = _read_stripped(loose)
            if kind == "heads" and value is not None and _FULL_ID.match(value):
                tips[ref] = value
    return tips


def is_branch_or_tag(git_dir: Path, revision: str) -> bool:
    """Whether ``refs/heads/<revision>`` or ``refs/tags/<revision>`` exists."""
    return any(ref_exists(git_dir, f"refs/{kind}/{revision}") for kind in ("heads", "tags"))


def tip_ref(git_dir: Path, commit: str, revision: str) -> str | None:
    """A ref at ``commit`` to clone with ``--branch``: ``revision``'s own, a tag, or HEAD's.

    Other branches are not offered: cloning one would leave an unrelated local branch behind.
    """
    head = _head_branch(git_dir)
    return pick_tip_ref(read_tips(git_dir), head[0] if head else None, commit, revision)


def pick_tip_ref(
    tips: Mapping[str, str], head: str | None, commit: str, revision: str
) -> str | None:
    """:func:`tip_ref` over known ``tips`` ({ref: commit}) and HEAD's branch ref ``head``."""
    tags = sorted(ref for ref in tips if ref.startswith("refs/tags/"))
    for ref in [*candidate_refs(revision), *tags, *([head] if head else [])]:
        if tips.get(ref) == commit:
            return ref
    return None


def _head_branch(git_dir: Path) -> list[str]:
    head = _read_stripped(git_dir / "HEAD") or ""
    return [head.removeprefix("ref: ")] if head.startswith("ref: refs/heads/") else []


def _read_stripped(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
