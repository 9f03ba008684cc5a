"""Borrowing clones of a mirror written directly: what ``git clone --shared`` makes, without
its processes.

``git clone --shared <mirror>`` runs three processes (git, a shell, and ``git-upload-pack`` for
the ref advertisement) around its checkout, and on small repositories processes are what a warm
assembly costs. Besides the checkout, such a clone is a handful of small files; nestr writes
them and ``git checkout`` fills the index and the work tree (running a ``post-checkout`` hook,
as clone does):

- the ``.git`` of a :class:`Prototype`, made once per assembly by ``git init`` beside the
  clones: the user's templates (hooks) and git's probes of the file system (``core.filemode``,
  ``core.ignorecase``, ``core.symlinks``) are git's own. Inert ``*.sample`` hooks are left out;
- ``objects/info/alternates`` naming the mirror's objects (the borrowing);
- the mirror's branches as ``refs/remotes/origin/*`` and its tags, in ``packed-refs`` with the
  peeled commits the mirror knows, and ``refs/remotes/origin/HEAD``;
- ``remote.origin`` and the local branch's tracking config, appended to the prototype's config;
- the local branch, ``HEAD``, and the reflog lines clone writes.

Only what nestr can write exactly as git does takes this path, and only when ``git.write_clones``
allows it (see :mod:`nestr.git.ondisk`). A prototype or mirror that fails the layout self-check
(:func:`~nestr.git.ondisk.supported_layout`: repository extensions such as SHA-256 objects or
reftable refs), a prototype with unusual files, a mirror with a loose ref that is not a plain
object id, or a mirror that is shallow (git copies from those instead of borrowing) makes
:func:`read_mirror_refs` or :func:`make_prototype` return None, and the caller runs ``git
clone``.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from nestr.errors import GitError
from nestr.git.configfile import quote_value
from nestr.git.ondisk import supported_layout
from nestr.git.refs import PackedRef, is_full_commit_id, parse_packed_refs, read_packed_text
from nestr.git.runner import run_git
from nestr.git.shallow import is_shallow

_ZERO = "0" * 40
_HEADS = "refs/heads/"
_TAGS = "refs/tags/"
_ORIGIN = "refs/remotes/origin/"


@dataclass(frozen=True)
class Prototype:
    """The ``.git`` that ``git init`` makes here, read once to be written for every clone."""

    dirs: tuple[str, ...]  # relative to .git, parents first
    files: tuple[tuple[str, bytes, int], ...]  # (relative path, content, mode)
    config: str
    # "Name <email> time zone" for reflog lines (None: write none), asked while clones check out
    ident: asyncio.Future[str | None]


@dataclass(frozen=True)
class MirrorRefs:
    """The branches and tags of a mirror (loose refs over packed ones) and its HEAD branch."""

    refs: dict[str, PackedRef]
    head_branch: str | None  # e.g. "main", when HEAD names a branch the mirror has

    def branch_commit(self, name: str) -> str | None:
        ref = self.refs.get(_HEADS + name)
        return ref.oid if ref is not None else None

    def tips(self) -> dict[str, str]:
        """{ref: commit} for every branch, and every tag whose commit is known without git."""
        found: dict[str, str] = {}
        for name, ref in self.refs.items():
            if ref.peeled is not None:
                found[name] = ref.peeled
            elif name.startswith(_HEADS) or ref.peel_known:
                found[name] = ref.oid
        return found


@dataclass(frozen=True)
class Checkout:
    """What the clone checks out: a local branch (tracking origin) and where HEAD points."""

    branch: str | None  # the local branch to create at its origin commit
    head: str  # a commit id (detached) or ``refs/heads/<branch>``


async def make_prototype(where: Path, *, timeout: float) -> Prototype | None:
    """``git init`` at ``where`` and read the result; None if nestr could not copy it exactly."""
    await run_git(["init", "--quiet", str(where)], cwd=where.parent, timeout=timeout)
    git_dir = where / ".git"
    if not supported_layout(git_dir):
        return None
    config = (git_dir / "config").read_text(encoding="utf-8")
    dirs: list[str] = []
    files: list[tuple[str, bytes, int]] = []
    for parent, subdirs, names in os.walk(git_dir):
        subdirs.sort()
        base = Path(parent)
        for name in subdirs:
            dirs.append((base / name).relative_to(git_dir).as_posix())
        for name in sorted(names):
            path = base / name
            relative = path.relative_to(git_dir).as_posix()
            if relative in {"HEAD", "config"} or _inert(relative):
                continue
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                return None  # a symlink from a template: left to git
            files.append((relative, path.read_bytes(), stat.S_IMODE(info.st_mode)))
    ident = asyncio.ensure_future(_ident(where, timeout))
    return Prototype(tuple(dirs), tuple(files), config, ident)


async def _ident(repo: Path, timeout: float) -> str | None:
    # asked inside a repository beside the clones: `includeIf "gitdir:…"` may set user.email
    try:
        done = await run_git(["var", "GIT_COMMITTER_IDENT"], cwd=repo, timeout=timeout, check=False)
    except (GitError, OSError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _inert(relative: str) -> bool:
    return relative.startswith("hooks/") and relative.endswith(".sample")


def read_mirror_refs(git_dir: Path) -> MirrorRefs | None:
    """The mirror's branches and tags as git would list them; None if not plain enough."""
    if is_shallow(git_dir) or not supported_layout(git_dir):
        return None
    try:
        refs = _packed(git_dir)
        if refs is None:
            return None
        for kind in (_HEADS, _TAGS):
            for name, oid in _loose(git_dir, kind):
                if not is_full_commit_id(oid):
                    return None  # a symbolic ref or something odd
                refs[name] = PackedRef(oid)
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    branch = head.removeprefix("ref: " + _HEADS) if head.startswith("ref: " + _HEADS) else None
    known = branch is not None and _HEADS + branch in refs
    return MirrorRefs(refs, branch if known else None)


def _packed(git_dir: Path) -> dict[str, PackedRef] | None:
    refs, understood = parse_packed_refs(read_packed_text(git_dir))
    if not understood:
        return None
    return {name: ref for name, ref in refs.items() if name.startswith((_HEADS, _TAGS))}


def _loose(git_dir: Path, kind: str) -> list[tuple[str, str]]:
    base = git_dir / kind
    found: list[tuple[str, str]] = []
    for parent, _, names in os.walk(base):
        for name in names:
            if name.endswith(".lock") or name.startswith("."):
                continue  # git's own lock files and hidden names are not refs (git skips them)
            path = Path(parent) / name
            found.append(
                (kind + path.relative_to(base).as_posix(), path.read_text("utf-8").strip())
            )
    return found


def write_clone(
    proto: Prototype,
    mirror: Path,
    refs: MirrorRefs,
    dest: Path,
    *,
    url: str,
    checkout: Checkout,
) -> None:
    """Write at ``dest`` the ``.git`` of a clone of ``mirror``, before its checkout (reflogs
    come after it: :func:`write_reflogs`)."""
    mirror = mirror.absolute()  # git reads a relative alternate from objects/, not from here
    git_dir = dest / ".git"
    git_dir.mkdir(parents=True)
    for relative in proto.dirs:
        (git_dir / relative).mkdir(exist_ok=True)
    for relative, content, mode in proto.files:
        _write(git_dir / relative, content, mode)
    _write_text(git_dir / "objects" / "info" / "alternates", f"{mirror / 'objects'}\n")
    _write_text(git_dir / "packed-refs", packed_refs_text(refs))
    if refs.head_branch is not None:
        target = f"ref: {_ORIGIN}{refs.head_branch}\n"
        _write_text(git_dir / (_ORIGIN + "HEAD"), target)
    _write_text(git_dir / "config", proto.config + _clone_config(url, checkout.branch))
    if checkout.branch is not None:
        commit = refs.branch_commit(checkout.branch)
        assert commit is not None, "a local branch is made only from a mirror branch"
        _write_text(git_dir / (_HEADS + checkout.branch), f"{commit}\n")
    symbolic = checkout.head.startswith("refs/")
    _write_text(git_dir / "HEAD", f"ref: {checkout.head}\n" if symbolic else f"{checkout.head}\n")


def packed_refs_text(refs: MirrorRefs) -> str:
    """``packed-refs`` for the clone: branches under origin, tags as they are, sorted."""
    entries = sorted(
        (_ORIGIN + name.removeprefix(_HEADS) if name.startswith(_HEADS) else name, ref)
        for name, ref in refs.refs.items()
    )
    every_peel_known = all(ref.peel_known for _, ref in entries)
    traits = "peeled fully-peeled sorted" if every_peel_known else "sorted"
    lines = [f"# pack-refs with: {traits} "]
    for name, ref in entries:
        lines.append(f"{ref.oid} {name}")
        if ref.peeled is not None:
            lines.append(f"^{ref.peeled}")
    return "\n".join(lines) + "\n"


def _clone_config(url: str, branch: str | None) -> str:
    text = f'[remote "origin"]\n\turl = {quote_value(url)}\n'
    text += "\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
    if branch is not None:
        subsection = branch.replace("\\", "\\\\").replace('"', '\\"')
        text += f'[branch "{subsection}"]\n\tremote = origin\n'
        text += f"\tmerge = {quote_value(_HEADS + branch)}\n"
    return text


def write_reflogs(
    ident: str | None, mirror: Path, refs: MirrorRefs, dest: Path, checkout: Checkout
) -> None:
    """The ``clone: from …`` lines git clone starts the reflogs of HEAD and new refs with."""
    if ident is None:
        return
    logs = dest / ".git" / "logs"
    message = f"clone: from {mirror.absolute()}"

    def line(commit: str) -> str:
        return f"{_ZERO} {commit} {ident}\t{message}\n"

    branch = refs.branch_commit(checkout.branch) if checkout.branch is not None else None
    symbolic = checkout.head.startswith("refs/")
    _write_text(logs / "HEAD", line(branch if symbolic and branch else checkout.head))
    if checkout.branch is not None and branch is not None:
        _write_text(logs / (_HEADS + checkout.branch), line(branch))
    origin_head = refs.branch_commit(refs.head_branch) if refs.head_branch is not None else None
    if origin_head is not None:
        _write_text(logs / (_ORIGIN + "HEAD"), line(origin_head))


def _write_text(path: Path, text: str) -> None:
    _write(path, text.encode("utf-8"), 0o666)  # less the umask, as git does


def _write(path: Path, content: bytes, mode: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:  # a ref with slashes, or logs/: make its directories once
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    if mode & 0o111:
        path.chmod(mode)  # hooks stay executable whatever the umask
