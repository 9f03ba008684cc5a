"""Sync of shared files: nestr against ``copier update`` and a plain-Python floor.

N repos (default 100) x F shared files (default 20, half of them templates rendered per repo):

- ``nestr sync plan`` and ``nestr sync apply --commit`` over a workspace of N clones, after a
  change of every source file (so every file of every repo is updated, and each repo committed);
- ``copier update --defaults`` run in each of N copier projects, one after the other, as a user
  would script it, after the same change of the template (copier 9 always overwrites files it
  manages; its old ``--overwrite`` switch is gone, so it is not passed);
- the floor: plain Python writing the same N x F files (templates rendered with str.replace),
  no git, no state: what any tool must at least do.

copier lives in its own venv (benchmarks/.work/venvs/copier); data under benchmarks/.work/sync.
Run: ``.venv/bin/python benchmarks/sync.py [--repos 100] [--files 20] [--rounds 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import (
    NESTR_BIN,
    WORK_DIR,
    Contender,
    PeerVenv,
    Unavailable,
    bench_env,
    compile_sources,
    fresh_dir,
    peer_venv,
    ratio,
    ratio_table,
    run,
    time_interleaved,
)

LINES = 30
GOAL = 20.0


def file_text(index: int, version: int, *, templated: bool, var: str) -> str:
    """The content of shared file ``index`` at ``version``; templates name the repo via ``var``."""
    lines = [f"# shared file {index}", f"version = {version}"]
    if templated:
        lines.append(f"name = {var}")
    lines += [f"setting_{index}_{n} = {n * index}" for n in range(LINES)]
    return "\n".join(lines) + "\n"


@dataclass
class Setup:
    root: Path
    env: dict[str, str]
    repos: int
    files: int

    @property
    def names(self) -> list[str]:
        return [f"repo-{i:04d}" for i in range(self.repos)]

    @property
    def ws(self) -> Path:
        return self.root / "ws"

    @property
    def shared(self) -> Path:
        return self.ws / "shared"

    @property
    def template(self) -> Path:
        return self.root / "copier-template"

    @property
    def projects(self) -> Path:
        return self.root / "copier-projects"

    def templated(self, index: int) -> bool:
        return index < self.files // 2


def write_sources(setup: Setup, version: int) -> None:
    """nestr's shared directory at ``version``."""
    for i in range(setup.files):
        if setup.templated(i):
            text = file_text(i, version, templated=True, var="{{ repo.name }}")
            (setup.shared / f"t{i:02d}.cfg.j2").write_text(text, encoding="utf-8")
        else:
            (setup.shared / f"p{i:02d}.cfg").write_text(
                file_text(i, version, templated=False, var="")
            )


def build_nestr(setup: Setup) -> None:
    origin = setup.root / "origin"
    origin.mkdir()
    run(["git", "init", "-q"], cwd=origin, env=setup.env)
    (origin / "README.md").write_text("# app\n", encoding="utf-8")
    run(["git", "add", "-A"], cwd=origin, env=setup.env)
    run(["git", "commit", "-q", "-m", "init"], cwd=origin, env=setup.env)
    setup.shared.mkdir(parents=True)
    write_sources(setup, 1)
    lines = ["version: 1", "repos:"]
    for name in setup.names:
        run(["git", "clone", "-q", origin, setup.ws / name], env=setup.env)
        lines += [f"  - name: {name}", f"    url: {origin.as_uri()}", f"    path: {name}"]
    lines += [
        "sync:",
        "  sources: [{path: shared}]",
        "  rules:",
        "    - {files: ['*.cfg.j2'], template: true}",
        "    - {files: ['p*.cfg']}",
    ]
    (setup.ws / "nestr.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    record = setup.ws / ".nestr" / "workspace.json"
    record.parent.mkdir(parents=True)
    record.write_text(
        json.dumps(
            {
                "id": "bench",
                "root": str(setup.ws),
                "manifest": str(setup.ws / "nestr.yaml"),
                "created": "2026-01-01T00:00:00+00:00",
                "expires": None,
            }
        ),
        encoding="utf-8",
    )
    run([NESTR_BIN, "sync", "apply", "-w", setup.ws, "--commit"], env=setup.env)


def write_template(setup: Setup, version: int) -> None:
    """The copier template at ``version``, committed and tagged ``v<version>``."""
    tmpl = setup.template
    for i in range(setup.files):
        if setup.templated(i):
            text = file_text(i, version, templated=True, var="{{ name }}")
            (tmpl / f"t{i:02d}.cfg.jinja").write_text(text, encoding="utf-8")
        else:
            (tmpl / f"p{i:02d}.cfg").write_text(file_text(i, version, templated=False, var=""))
    run(["git", "add", "-A"], cwd=tmpl, env=setup.env)
    run(["git", "commit", "-q", "-m", f"v{version}"], cwd=tmpl, env=setup.env)
    run(["git", "tag", f"v{version}"], cwd=tmpl, env=setup.env)


def build_copier(setup: Setup, copier: PeerVenv) -> None:
    tmpl = setup.template
    tmpl.mkdir()
    run(["git", "init", "-q"], cwd=tmpl, env=setup.env)
    (tmpl / "copier.yml").write_text("name:\n  type: str\n  default: proj\n", encoding="utf-8")
    (tmpl / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml }}", encoding="utf-8"
    )
    write_template(setup, 1)
    setup.projects.mkdir()
    for name in setup.names:
        dest = setup.projects / name
        argv = [copier.bin("copier"), "copy", "--quiet", "--defaults", "--data", f"name={name}"]
        run([*argv, "--vcs-ref", "v1", tmpl, dest], env=setup.env)
        run(["git", "init", "-q"], cwd=dest, env=setup.env)
        commit_all(dest, setup.env)


def commit_all(path: Path, env: dict[str, str]) -> None:
    run(["git", "add", "-A"], cwd=path, env=env)
    run(["git", "commit", "-q", "--allow-empty", "-m", "state"], cwd=path, env=env)


def contenders(setup: Setup, copier: PeerVenv | None) -> list[Contender]:
    ws = setup.ws
    version = {"nestr": 1, "copier": 1, "floor": 1}

    def nestr_prepare(_round: int) -> None:
        version["nestr"] += 1
        write_sources(setup, version["nestr"])

    def copier_prepare(_round: int) -> None:
        if copier is None:
            raise Unavailable("copier could not be installed")
        for name in setup.names:
            commit_all(setup.projects / name, setup.env)
        version["copier"] += 1
        write_template(setup, version["copier"])

    def copier_update(_round: int) -> None:
        assert copier is not None
        for name in setup.names:
            argv = [copier.bin("copier"), "update", "--quiet", "--defaults"]
            run(argv, cwd=setup.projects / name, env=setup.env)

    def floor(_round: int) -> None:
        version["floor"] += 1
        for name in setup.names:
            target = setup.root / "floor" / name
            target.mkdir(parents=True, exist_ok=True)
            for i in range(setup.files):
                templated = setup.templated(i)
                text = file_text(i, version["floor"], templated=templated, var="{{ name }}")
                (target / f"f{i:02d}.cfg").write_text(text.replace("{{ name }}", name))

    return [
        Contender(
            "nestr sync plan",
            lambda _r: run([NESTR_BIN, "sync", "plan", "-w", ws, "--json"], env=setup.env),
            prepare=nestr_prepare,
        ),
        Contender(
            "nestr sync apply --commit",
            lambda _r: run([NESTR_BIN, "sync", "apply", "-w", ws, "--commit"], env=setup.env),
        ),
        Contender("copier update x N (sequential)", copier_update, prepare=copier_prepare),
        Contender("floor: plain Python writes", floor),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=100, help="number of target repos")
    parser.add_argument("--files", type=int, default=20, help="shared files per repo")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of nestr and floor")
    parser.add_argument("--copier-rounds", type=int, default=1, help="timed rounds of copier")
    parser.add_argument("--quick", action="store_true", help="10 repos, 1 round each")
    args = parser.parse_args(argv)
    compile_sources()
    if args.quick:
        args.repos, args.rounds, args.copier_rounds = 10, 1, 1
    root = fresh_dir(WORK_DIR / "sync")
    setup = Setup(root, bench_env(root), args.repos, args.files)
    print(f"building {args.repos} repos x {args.files} files (half templated)", flush=True)
    build_nestr(setup)
    copier: PeerVenv | None
    try:
        copier = peer_venv("copier", ["copier"])
        build_copier(setup, copier)
    except (Unavailable, RuntimeError) as exc:
        print(f"copier unavailable: {exc}", file=sys.stderr)
        copier = None
    everyone = contenders(setup, copier)
    plan, apply, copier_c, floor = everyone
    time_interleaved(everyone, min(args.rounds, args.copier_rounds))
    extra = args.rounds - min(args.rounds, args.copier_rounds)
    if extra > 0:
        time_interleaved([plan, apply, floor], extra)
    title = f"sync: {args.repos} repos x {args.files} files, every file changed (median seconds)"
    print(ratio_table(title, everyone, refs={"copier": copier_c.name, "floor": floor.name}))
    speedup = ratio(everyone, copier_c.name, apply.name)
    if speedup is not None:
        verdict = "met" if speedup >= GOAL else "NOT met"
        goal = f"goal {GOAL:.0f}x: {verdict}"
        print(f"apply --commit is {speedup:.1f}x faster than copier update ({goal})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
