"""Workspace assembly and status: nestr against vcstool, west, plain git clone and the floor.

Generates N repositories with realistic history (``_gitdata``), serves them from ``git daemon`` on
127.0.0.1 and times, in interleaved rounds (median reported):

- nestr cold: ``nestr assemble`` with an empty cache (fresh XDG_CACHE_HOME),
- nestr warm: ``nestr assemble --locked`` into a new directory, cache filled, nestr.lock present,
- ``vcs import -w 8`` (vcstool), ``west update`` with and without west 1.5's ``--auto-cache``,
- sequential ``git clone``, and the floor: parallel ``git worktree add --detach`` from ready
  mirrors (what any tool needs at least to put files on disk);

then ``nestr status`` against ``vcs status`` and ``west status`` on one checkout of the N repos,
and what the durable event log costs a warm assembly (its events appended again, timed alone).
Peers live in their own venvs under benchmarks/.work/venvs/; generated data under
benchmarks/.work/. Run: ``.venv/bin/python benchmarks/assembly.py [--sizes 10,30,60] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from _common import (
    NESTR_BIN,
    REPO_ROOT,
    WORK_DIR,
    Contender,
    PeerVenv,
    Unavailable,
    bench_env,
    compile_sources,
    empty_trash,
    fresh_dir,
    peer_venv,
    ratio,
    ratio_table,
    run,
    time_interleaved,
)
from _gitdata import generate_repos, git_daemon
from _manifests import Setup, nestr_manifest, vcs_repos_file, west_template
from nestr.workspace.record import Workspace, new_workspace_id, write_record

PEERS_COLD = ("vcs import -w 8", "west update", "git clone (sequential)")
PEER_WARM = "west update --auto-cache"
FLOOR = "floor: worktree add -j8"
STATUS_PEERS = ("vcs status", "west status")


def nestr_command(name: str) -> Path:
    """The nestr executable, if the command ``name`` exists in this checkout."""
    if not (REPO_ROOT / "src" / "nestr" / "cli" / "commands" / f"{name}.py").exists():
        raise Unavailable(f"`nestr {name}` is not available in this checkout")
    if not NESTR_BIN.exists():
        raise Unavailable(f"{NESTR_BIN} missing: run `make venv`")
    return NESTR_BIN


# --- assembly contenders --------------------------------------------------------------------


def nestr_cold(setup: Setup, manifest: Path) -> Contender:
    state: dict[str, Path] = {}

    def prepare(number: int) -> None:
        nestr_command("assemble")
        state["cache"] = fresh_dir(setup.root / "nestr-cold-cache", defer_delete=True)
        state["target"] = _target(setup, "nestr-cold", number)

    def action(_number: int) -> None:
        env = {**setup.env, "XDG_CACHE_HOME": str(state["cache"])}
        run([NESTR_BIN, "assemble", "-m", manifest, "-w", state["target"]], env=env)

    return Contender("nestr cold", action, prepare)


def nestr_warm(setup: Setup, manifest: Path) -> Contender:
    state: dict[str, Path] = {}
    cache = setup.root / "nestr-warm-cache"

    def prepare(number: int) -> None:
        nestr_command("assemble")
        nestr_command("lock")
        env = {**setup.env, "XDG_CACHE_HOME": str(cache)}
        if number == 0:  # fill the cache and pin every repo, untimed
            fresh_dir(cache)
            warmup = _target(setup, "nestr-warmup", 0)
            run([NESTR_BIN, "lock", "-m", manifest], env=env)
            run([NESTR_BIN, "assemble", "-m", manifest, "-w", warmup, "--locked"], env=env)
        state["target"] = _target(setup, "nestr-warm", number)

    def action(_number: int) -> None:
        env = {**setup.env, "XDG_CACHE_HOME": str(cache)}
        run([NESTR_BIN, "assemble", "-m", manifest, "-w", state["target"], "--locked"], env=env)

    return Contender("nestr warm (--locked)", action, prepare)


def vcs_import(setup: Setup, vcs: PeerVenv | None, repos_file: Path) -> Contender:
    state: dict[str, Path] = {}

    def prepare(number: int) -> None:
        if vcs is None:
            raise Unavailable("vcstool could not be installed")
        state["target"] = _target(setup, "vcs", number)
        state["target"].mkdir()  # vcs import wants an existing directory

    def action(_number: int) -> None:
        assert vcs is not None
        argv = [vcs.bin("vcs"), "import", "--input", repos_file, "-w", "8", state["target"]]
        run(argv, env=setup.env)

    return Contender("vcs import -w 8", action, prepare)


def west_update(setup: Setup, west: PeerVenv | None, *, auto_cache: bool) -> Contender:
    state: dict[str, Path] = {}
    label = "west-cached" if auto_cache else "west"
    cache = setup.root / "west-auto-cache"

    def prepare(number: int) -> None:
        if west is None:
            raise Unavailable("west could not be installed")
        topdir = _target(setup, label, number)
        west_template(setup, topdir)
        state["topdir"] = topdir
        if auto_cache and number == 0:  # fill the cache, untimed
            fresh_dir(cache)
            warm = west_template(setup, _target(setup, "west-warmup", 0))
            run([west.bin("west"), "update", "--auto-cache", cache], cwd=warm, env=setup.env)

    def action(_number: int) -> None:
        assert west is not None
        extra = ["--auto-cache", str(cache)] if auto_cache else []
        run([west.bin("west"), "update", *extra], cwd=state["topdir"], env=setup.env)

    return Contender(PEER_WARM if auto_cache else "west update", action, prepare)


def git_clone_sequential(setup: Setup) -> Contender:
    state: dict[str, Path] = {}

    def prepare(number: int) -> None:
        state["target"] = _target(setup, "clone", number)

    def action(_number: int) -> None:
        for name in setup.names:
            target = state["target"] / "repos" / name
            run(["git", "clone", "-q", setup.url(name), target], env=setup.env)

    return Contender("git clone (sequential)", action, prepare)


def worktree_floor(setup: Setup) -> Contender:
    mirrors = setup.root / "floor-mirrors"
    state: dict[str, Path] = {}
    commits: dict[str, str] = {}

    def prepare(number: int) -> None:
        if number == 0:
            fresh_dir(mirrors)
            for name in setup.names:
                mirror = mirrors / f"{name}.git"
                run(["git", "clone", "-q", "--mirror", setup.url(name), mirror], env=setup.env)
                commits[name] = run(["git", "rev-parse", "main"], cwd=mirror).strip()
        state["target"] = _target(setup, "floor", number)
        for name in setup.names:  # forget the previous round's (deleted) worktrees
            run(["git", "worktree", "prune"], cwd=mirrors / f"{name}.git", env=setup.env)

    def add(name: str) -> None:
        target = state["target"] / "repos" / name
        argv = ["git", "worktree", "add", "-q", "--detach", target, commits[name]]
        run(argv, cwd=mirrors / f"{name}.git", env=setup.env)

    def action(_number: int) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(add, setup.names))

    return Contender(FLOOR, action, prepare)


def _target(setup: Setup, label: str, number: int) -> Path:
    """A fresh, not yet existing directory for one round of one contender."""
    # earlier rounds go to the trash, emptied once the timing is over (see fresh_dir)
    return fresh_dir(setup.root / "runs" / label, defer_delete=True) / f"round{number}"


# --- status contenders ----------------------------------------------------------------------


def status_checkout(setup: Setup, manifest_text: str) -> Path:
    """One checkout of every repo that is a nestr workspace, a west workspace and a vcs tree."""
    topdir = fresh_dir(setup.root / "status")
    topdir.rmdir()
    west_template(setup, topdir)
    for name in setup.names:
        run(["git", "clone", "-q", setup.url(name), topdir / "repos" / name], env=setup.env)
        (topdir / "repos" / name / "src" / "mod00" / "untracked.txt").write_text("x\n")
    manifest = topdir / "nestr.yaml"
    manifest.write_text(manifest_text, encoding="utf-8")
    write_record(Workspace(topdir, manifest, new_workspace_id(), datetime.now(UTC)))
    return topdir


def status_contenders(
    setup: Setup, topdir: Path, vcs: PeerVenv | None, west: PeerVenv | None
) -> list[Contender]:
    def tool(name: str, argv: Callable[[], Sequence[str | Path]], needs: object) -> Contender:
        def action(_number: int) -> None:
            if needs is None:
                raise Unavailable(f"{name.split(maxsplit=1)[0]} could not be installed")
            run(argv(), cwd=topdir, env=setup.env)

        def warm_up(number: int) -> None:
            # one untimed run per tool first: nestr's first command on a new manifest fills
            # its input cache, and every tool's files reach the page cache
            if number == 0:
                action(number)

        return Contender(name, action, warm_up)

    return [
        tool("nestr status", lambda: [nestr_command("status"), "status", "-w", topdir], True),
        tool("vcs status", lambda: [vcs.bin("vcs") if vcs else "", "status", "repos"], vcs),
        tool("west status", lambda: [west.bin("west") if west else "", "status"], west),
    ]


# --- driver ---------------------------------------------------------------------------------


def peers() -> tuple[PeerVenv | None, PeerVenv | None]:
    found: list[PeerVenv | None] = []
    for name, packages in (("vcstool", ["vcstool==0.3.0"]), ("west", ["west>=1.5"])):
        try:
            found.append(peer_venv(name, packages))
        except Unavailable as exc:
            print(f"warning: {exc}", file=sys.stderr)
            found.append(None)
    return found[0], found[1]


def bench_size(
    size: int,
    data: Path,
    rounds: int,
    tools: tuple[PeerVenv | None, ...],
    parts: set[str],
    workdir: Path,
) -> str:
    vcs, west = tools
    root = fresh_dir(workdir / f"n{size}")
    with git_daemon(data) as daemon:
        setup = Setup(size, daemon.url_base, root, bench_env(root))
        # Separate manifests: `nestr lock` (warm) writes nestr.lock beside its manifest, and the
        # cold contender must not see it.
        manifest = nestr_manifest(setup, root / "project-cold" / "nestr.yaml")
        warm_manifest = nestr_manifest(setup, root / "project-warm" / "nestr.yaml")
        repos_file = vcs_repos_file(setup, root / "bench.repos")
        assembly = [
            nestr_cold(setup, manifest),
            nestr_warm(setup, warm_manifest),
            vcs_import(setup, vcs, repos_file),
            west_update(setup, west, auto_cache=False),
            west_update(setup, west, auto_cache=True),
            git_clone_sequential(setup),
            worktree_floor(setup),
        ]
        if "assembly" in parts:
            time_interleaved(assembly, rounds)
        events = event_cost(setup, root / "event-cost") if "assembly" in parts else None
        empty_trash(root, root / "runs")
        topdir = status_checkout(setup, manifest.read_text(encoding="utf-8"))
        status = status_contenders(setup, topdir, vcs, west)
        if "status" in parts:
            time_interleaved(status, rounds)
    shutil.rmtree(root / "runs", ignore_errors=True)
    empty_trash(root)
    report_text = report(size, rounds, assembly, status)
    if events is not None:
        report_text += "\n" + events.line(next(c for c in assembly if c.name == _WARM).median)
    shutil.rmtree(root, ignore_errors=True)  # caches and checkouts: on tmpfs they hold memory
    return report_text


class EventCost:
    """The durable events of the last warm assembly and what appending one costs."""

    def __init__(self, count: int, seconds_each: float) -> None:
        self.count = count
        self.seconds_each = seconds_each

    def line(self, warm_median: float | None) -> str:
        total = self.count * self.seconds_each
        share = f" ({total / warm_median:.1%} of the warm median)" if warm_median else ""
        return (
            f"durable events: {self.count} per warm assembly, {self.seconds_each * 1e6:.0f} us"
            f" each to append: {total * 1000:.1f} ms{share}"
        )


def event_cost(setup: Setup, workdir: Path, rounds: int = 5) -> EventCost | None:
    """Append the events of the last warm assembly to a fresh log beside the checkouts, one
    event per transaction as the bus does, and time it (median of ``rounds``)."""
    try:
        from nestr.store.eventlog import open_event_log
    except ImportError:  # a checkout from before the durable log of assemblies
        return None
    state = Path(setup.env["XDG_STATE_HOME"]) / "nestr"
    if not (state / "nestr.db").exists():
        return None
    log = open_event_log(state)
    try:
        stored = log.read()
    finally:
        log.close()
    last = stored[-1].correlation_id if stored else None
    events = [replace(e, seq=None) for e in stored if last and e.correlation_id == last]
    if not events:
        return None
    times = []
    for number in range(rounds):
        target = open_event_log(fresh_dir(workdir / str(number)))
        try:
            started = time.perf_counter()
            for event in events:
                target.append(event)
            times.append((time.perf_counter() - started) / len(events))
        finally:
            target.close()
    return EventCost(len(events), statistics.median(times))


def report(size: int, rounds: int, assembly: list[Contender], status: list[Contender]) -> str:
    peers_timed = [c for c in assembly if c.name in (*PEERS_COLD, PEER_WARM) and c.median]
    cold_timed = [c for c in peers_timed if c.name in PEERS_COLD]
    fastest = min(peers_timed, key=lambda c: c.median or 0.0).name if peers_timed else None
    fastest_cold = min(cold_timed, key=lambda c: c.median or 0.0).name if cold_timed else None
    refs = {"fastest peer": fastest, "floor": FLOOR}
    lines = [
        ratio_table(f"assembly of {size} repos ({rounds} rounds, median)", assembly, refs=refs),
        "",
        ratio_table(f"status of {size} repos", status, refs={"nestr": "nestr status"}),
        "",
        "goals:",
        _goal("warm >= 3x faster than fastest peer", ratio(assembly, fastest, _WARM), 3.0, True),
        _goal("warm within 1.3x of the floor", ratio(assembly, _WARM, FLOOR), 1.3, False),
        _goal("cold <= fastest cold peer", ratio(assembly, "nestr cold", fastest_cold), 1.0, False),
    ]
    for peer in STATUS_PEERS:
        lines.append(_goal(f"status <= 0.5x {peer}", ratio(status, "nestr status", peer), 0.5))
    return "\n".join(lines)


_WARM = "nestr warm (--locked)"


def _goal(label: str, value: float | None, limit: float, at_least: bool = False) -> str:
    if value is None:
        return f"  {label}: not measured"
    met = value >= limit if at_least else value <= limit
    return f"  {label}: {value:.2f}x {'met' if met else 'NOT met'}"


def default_workdir() -> Path:
    """A tmpfs when the machine has one: every contender writes the same files, and a virtual
    disk whose throughput swings fourfold between minutes (this one's does) would time the
    disk, not the tools. ``--workdir benchmarks/.work/assembly`` measures on disk instead."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 4 << 30:
        return shm / "nestr-bench-assembly"
    return WORK_DIR / "assembly"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,30,60", help="repo counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per contender")
    parser.add_argument("--commits", type=int, default=300, help="commits per repository")
    parser.add_argument("--files", type=int, default=300, help="files per repository")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 repos, 1 round")
    parser.add_argument(
        "--only", choices=["assembly", "status"], help="time only assembly or only status"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=default_workdir(),
        help="where checkouts and caches go (default: a tmpfs under /dev/shm when there is one)",
    )
    args = parser.parse_args(argv)
    print(f"checkouts and caches under {args.workdir}")
    compile_sources()
    parts = {args.only} if args.only else {"assembly", "status"}
    if args.quick:
        args.sizes, args.rounds = "10", 1
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"generating {max(sizes)} repositories ({args.commits} commits, {args.files} files)")
    data = generate_repos(max(sizes), commits=args.commits, files=args.files)
    tools = peers()
    for size in sizes:
        print(f"\n== {size} repos ==", flush=True)
        print(bench_size(size, data, args.rounds, tools, parts, args.workdir), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
