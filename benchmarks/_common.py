"""Shared pieces of the benchmarks: peer venvs, interleaved timing rounds, result tables.

Every benchmark compares nestr with its peers on the same machine in one run. Peers live in their
own virtual environments under ``benchmarks/.work/venvs/NAME`` so they never touch nestr's
``.venv``. Timings are medians of rounds that interleave the contenders (A B C, A B C, ...) so a
slow phase of the machine hurts every contender alike.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
import venv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
VENVS_DIR = WORK_DIR / "venvs"
NESTR_BIN = REPO_ROOT / ".venv" / "bin" / "nestr"


class Unavailable(Exception):
    """A contender cannot run on this machine (tool missing, feature not built yet)."""


@dataclass(frozen=True)
class PeerVenv:
    """A virtual environment holding one peer tool, e.g. ``west`` or ``vcstool``."""

    name: str
    path: Path

    def bin(self, program: str) -> Path:
        return self.path / "bin" / program


def peer_venv(name: str, packages: Sequence[str], *, quiet: bool = True) -> PeerVenv:
    """Create (once) ``benchmarks/.work/venvs/NAME`` and pip install ``packages`` into it.

    A stamp file records the requested packages, so changing them reinstalls; a failed install
    raises :class:`Unavailable` so the benchmark reports the row instead of crashing.
    """
    path = VENVS_DIR / name
    stamp = path / ".installed"
    wanted = "\n".join(packages)
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return PeerVenv(name, path)
    if not (path / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    argv = [str(path / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    proc = subprocess.run(
        [*argv, *(["--quiet"] if quiet else []), *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise Unavailable(f"pip install {' '.join(packages)} failed: {proc.stderr.strip()[-300:]}")
    stamp.write_text(wanted, encoding="utf-8")
    return PeerVenv(name, path)


def fresh_dir(path: Path, *, defer_delete: bool = False) -> Path:
    """An empty directory at ``path``; what was there is removed first.

    ``defer_delete`` moves the old tree aside instead (``.trash-*`` beside it), for
    :func:`empty_trash` once nothing is being timed: deleting tens of thousands of files makes a
    disk discard blocks for seconds afterwards, which would slow down whichever contender runs
    next.
    """
    if path.exists():
        if defer_delete:
            path.rename(path.parent / f".trash-{path.name}-{uuid.uuid4().hex[:12]}")
        else:
            shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def empty_trash(*parents: Path) -> None:
    """Delete what :func:`fresh_dir` moved aside in ``parents`` (between timed sections)."""
    for parent in parents:
        for trash in parent.glob(".trash-*"):
            shutil.rmtree(trash, ignore_errors=True)


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
) -> str:
    """Run a command, return stdout; raise RuntimeError with its stderr when it fails."""
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        shown = " ".join(str(a) for a in argv)
        raise RuntimeError(f"`{shown}` exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return proc.stdout


@dataclass
class Contender:
    """One thing being timed: ``prepare`` (untimed) then ``action`` (timed), each round."""

    name: str
    action: Callable[[int], None]  # receives the round number
    prepare: Callable[[int], None] | None = None
    times: list[float] = field(default_factory=list)
    unavailable: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


def time_interleaved(contenders: Sequence[Contender], rounds: int) -> None:
    """Time every available contender ``rounds`` times, interleaved; fill ``times``.

    A contender that raises :class:`Unavailable` (or fails) is marked and skipped from then on,
    with the reason kept for the table. Before each timed action the file system is synced
    (untimed): the dirty pages the previous contender left would otherwise be written back
    while the next one runs, and on a slow disk that charges one tool for another's writes.
    """
    for number in range(rounds):
        for contender in contenders:
            if contender.unavailable is not None:
                continue
            try:
                if contender.prepare is not None:
                    contender.prepare(number)
                os.sync()
                start = time.perf_counter()
                contender.action(number)
                contender.times.append(time.perf_counter() - start)
            except Unavailable as exc:
                contender.unavailable = str(exc)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                contender.unavailable = f"failed: {str(exc).strip().splitlines()[0][:120]}"
                print(f"  {contender.name}: {exc}", file=sys.stderr)


def ratio_table(
    title: str,
    contenders: Sequence[Contender],
    *,
    baseline: str | None = None,
    refs: Mapping[str, str | None] | None = None,
) -> str:
    """A plain-text table: median seconds and, per reference, each row's ratio to it.

    ``refs`` maps a column label to the contender it divides by (None: not measured);
    ``baseline`` is the one reference when ``refs`` is not given; without either the fastest
    row is the reference.
    """
    medians = {c.name: c.median for c in contenders}
    if refs is None and baseline is not None:
        refs = {baseline: baseline}
    if refs is None:
        timed = [c for c in contenders if c.median is not None]
        fastest = min(timed, key=lambda c: c.median or 0.0).name if timed else None
        refs = {"fastest": fastest}
    width = max([len(c.name) for c in contenders] + [10])
    header = f"{'contender':<{width}}  {'median s':>9}  {'rounds':>6}"
    header += "".join(f"  {'x ' + label:>14}" for label in refs)
    lines = [title, header]
    for contender in contenders:
        if contender.median is None:
            reason = contender.unavailable or "not run"
            lines.append(f"{contender.name:<{width}}  {'-':>9}  {'-':>6}  not available ({reason})")
            continue
        row = f"{contender.name:<{width}}  {contender.median:>9.3f}  {len(contender.times):>6}"
        for ref in refs.values():
            base = medians.get(ref) if ref else None
            row += f"  {contender.median / base:>13.2f}x" if base else f"  {'-':>14}"
        lines.append(row)
    return "\n".join(lines)


def ratio(contenders: Sequence[Contender], name: str | None, other: str | None) -> float | None:
    """median(name) / median(other), or None when either did not run."""
    by_name = {c.name: c.median for c in contenders}
    top = by_name.get(name) if name else None
    bottom = by_name.get(other) if other else None
    if top is None or not bottom:
        return None
    return top / bottom


def compile_sources() -> None:
    """Write nestr's bytecode before timing anything, as pip does for the peers it installs.

    nestr runs from its source tree (an editable install), whose ``__pycache__`` is filled by
    the first run — or never, under ``PYTHONDONTWRITEBYTECODE`` — so without this every timed
    nestr process could pay for compiling its modules while the peers load ready bytecode.
    """
    import compileall

    compileall.compile_dir(REPO_ROOT / "src" / "nestr", quiet=1)


def base_env(**extra: str) -> dict[str, str]:
    """The current environment without NESTR_* and GIT_* overrides, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NESTR_", "GIT_"))}
    env.update(extra)
    return env


def bench_env(root: Path) -> dict[str, str]:
    """An environment with its own HOME, git identity and no user or system git config."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Bench\n\temail = bench@nestr.invalid\n"
        "[advice]\n\tdetachedHead = false\n[init]\n\tdefaultBranch = main\n",
        encoding="utf-8",
    )
    return base_env(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".state"),
        GIT_CONFIG_NOSYSTEM="1",
    )
