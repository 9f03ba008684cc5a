"""Assembly against real processes: a git daemon, concurrent nestr runs, kill -9, git counts."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

import pytest
from tests.workspace.assembly_helpers import (
    Project,
    counting_git,
    free_port,
    git_daemon,
    is_complete_repo,
    make_project,
    nestr_process,
    upstream_templates,
    wait_for_git_processes_under,
)

from nestr.events import EventBus
from nestr.manifest.model import Manifest, RepoSpec
from nestr.testing import git
from nestr.workspace.assemble import AssembleOptions, assemble
from nestr.workspace.lockfile import (
    LockedRepo,
    LockFile,
    lock_path_for,
    manifest_hash,
    write_lock,
)
from nestr.workspace.results import AssemblyResult


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(
        tmp_path, upstream_templates(tmp_path_factory), ("api", "web", "lib", "docs")
    )


def run(project: Project, manifest: Manifest, ws: Path, freshness: float = 0) -> AssemblyResult:
    opts = AssembleOptions(
        cache_dir=project.cache_dir,
        state_dir=project.state_dir,
        fetch_freshness=freshness,
        jobs=4,
    )
    return asyncio.run(assemble(manifest, ws, opts, bus=EventBus()))


def all_four(project: Project) -> Manifest:
    return project.manifest(
        project.spec("api"),
        project.spec("web", "v1"),
        project.spec("lib", path="api/vendor/lib"),
        project.spec("docs", "dev"),
    )


def test_assembly_over_the_git_protocol(project: Project) -> None:
    """Repos are mirrored and cloned from a git daemon on 127.0.0.1, then updated over it."""
    with git_daemon(project.tmp / "up") as port:
        specs = [
            RepoSpec(name, f"git://127.0.0.1:{port}/{name}", "main", name)
            for name in ("api", "web")
        ]
        manifest = project.manifest(*specs)
        first = run(project, manifest, project.ws)
        assert [r.status for r in first.repos] == ["cloned", "cloned"]
        new = project.upstreams["web"].commit({"n.txt": "new\n"})
        second = run(project, manifest, project.ws)
    assert {r.name: r.status for r in second.repos} == {"api": "unchanged", "web": "updated"}
    assert project.repo("web").head() == new
    assert not _processes_mentioning(str(project.tmp / "up")), "the git daemon outlived its test"
    assert git(project.ws / "web", "remote", "get-url", "origin") == specs[1].url


def _processes_mentioning(text: str) -> list[int]:
    """Live (not zombie) processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _write_lock(manifest: Manifest, commits: dict[str, str]) -> None:
    repos = {s.name: LockedRepo(s.name, s.url, s.revision, commits[s.name]) for s in manifest.repos}
    write_lock(lock_path_for(manifest), LockFile(manifest_hash(manifest), repos))


def test_git_processes_per_repo(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cold: a mirror and a checkout per repo; warm: a checkout per new repo, a status per rerun.

    New repos share one ``git init`` (and one ``git var`` for their reflogs): nestr writes
    the rest of each clone itself.
    """
    manifest = project.manifest(*(project.spec(n) for n in ("api", "web", "lib", "docs")))
    log = counting_git(project.tmp, monkeypatch)
    assert run(project, manifest, project.tmp / "first").ok  # fills the cache
    cold = sorted(" ".join(line.split()[:2]) for line in log.read_text().splitlines())
    expected = ["checkout --quiet"] * 4 + ["clone --bare"] * 4
    # `--version` once per git executable and cache (git.write_clones=auto asks it, remembered)
    assert cold == ["--version", *expected, "init --quiet", "var GIT_COMMITTER_IDENT"], cold
    log.unlink()
    assert run(project, manifest, project.ws, freshness=3600).ok
    fresh_workspace = sorted(log.read_text().splitlines())
    assert len(fresh_workspace) == 6, fresh_workspace
    assert fresh_workspace[:4] == ["checkout --quiet --force"] * 4
    assert fresh_workspace[4].startswith("init --quiet ")
    log.unlink()
    assert run(project, manifest, project.ws, freshness=3600).ok
    warm = log.read_text().splitlines()
    assert len(warm) == 4, warm  # one `git status` per repo; refs are read from files
    assert all(line.startswith("status ") for line in warm)


def test_git_processes_per_locked_repo(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locked: every pin, at a branch or tag tip or not, is one checkout in a written clone."""
    names = ("api", "web", "lib")
    manifest = project.manifest(*(project.spec(n, "dev" if n == "web" else "main") for n in names))
    run(project, manifest, project.tmp / "first")  # fills the cache
    up = {n: project.upstreams[n].path for n in names}
    pins = {
        "api": git(up["api"], "rev-parse", "main"),  # tip of the manifest's branch
        "web": git(up["web"], "rev-parse", "dev"),  # tip of the manifest's branch (and of v1)
        "lib": git(up["lib"], "rev-parse", "main~2"),  # no ref points at it
    }
    _write_lock(manifest, pins)
    log = counting_git(project.tmp, monkeypatch)
    opts = AssembleOptions(
        cache_dir=project.cache_dir, state_dir=project.state_dir, locked=True, jobs=1
    )
    result = asyncio.run(assemble(manifest, project.ws, opts, bus=EventBus()))
    assert result.ok, [(r.name, r.message) for r in result.repos]
    calls = log.read_text().splitlines()
    assert sorted(c.split()[0] for c in calls) == [
        "--version",  # a git executable new to the cache (the counting wrapper): asked once
        "cat-file",  # is lib's pin in the mirror? (the tips of api and web say so themselves)
        "checkout",
        "checkout",
        "checkout",
        "init",
        "var",
    ], calls
    for name in names:  # every pin detached at its commit, tree and index matching it
        repo = project.ws / name
        assert git(repo, "rev-parse", "HEAD") == pins[name]
        assert git(repo, "status", "--porcelain=v2", "--branch").splitlines()[1] == (
            "# branch.head (detached)"
        )
        assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
        assert git(repo, "remote", "get-url", "origin") == project.upstreams[name].url


def test_concurrent_assemblies_share_a_mirror(project: Project) -> None:
    """Two nestr processes assembling at once from a cold cache both succeed."""
    manifest = all_four(project)
    runs = [
        nestr_process(
            "assemble",
            "-m",
            str(manifest.path),
            "-w",
            str(project.tmp / f"ws{i}"),
            "-j",
            "4",
            cwd=project.tmp,
        )
        for i in (1, 2)
    ]
    for process in runs:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    for i in (1, 2):
        for spec in manifest.repos:
            assert is_complete_repo(project.tmp / f"ws{i}" / spec.path)
    assert len(list(project.cache_dir.glob("mirrors/*.git"))) == 4


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_kill_9_then_assemble_converges(project: Project, seed: int) -> None:
    """After SIGKILL at a seeded point the next assembly completes; nothing half-made remains."""
    manifest = all_four(project)
    rng = random.Random(seed)
    kill_after = rng.randint(0, 12)
    ws = project.ws
    process = nestr_process(
        "assemble", "-m", str(manifest.path), "-w", str(ws), "-j", "2", cwd=project.tmp
    )
    assert process.stderr is not None
    for _ in range(kill_after):
        if not process.stderr.readline():
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    wait_for_git_processes_under(project.tmp)
    for spec in manifest.repos:  # whatever is in place is whole
        path = ws / spec.path
        assert not path.exists() or is_complete_repo(path), path
    result = run(project, manifest, ws)
    assert result.ok, [(r.name, r.message) for r in result.repos]
    for spec in manifest.repos:
        assert is_complete_repo(ws / spec.path)
    assert not (ws / ".nestr" / "tmp").exists()  # nothing left behind
    assert list(project.cache_dir.glob("mirrors/.tmp-*")) == []


def test_connection_refused_is_tried_three_times(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused connection is a transient failure: three attempts, then the repo fails."""
    log = counting_git(project.tmp, monkeypatch)
    dead = RepoSpec("gone", f"git://127.0.0.1:{free_port()}/gone.git", "main", "gone")
    result = run(project, project.manifest(dead), project.ws)
    assert result.repos[0].status == "failed"
    attempts = [line for line in log.read_text().splitlines() if line.startswith("clone --bare")]
    assert len(attempts) == 3
