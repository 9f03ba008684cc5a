"""The guided tour behind ``nestr demo``: real commands over the sample product.

Each step prints the command a user would type, then runs it in-process through the same entry
point as the console script, so what the tour shows is exactly what nestr does. Config is pinned
to the demo directory (cache, state) with ``--set``, which the printed commands leave out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import click

from nestr.errors import WorkFailed


class Tour:
    """Runs the demo's chapters in order; each one is a few real nestr commands."""

    def __init__(self, root: Path, *, temporal: bool = False) -> None:
        self.root = root
        self.temporal = temporal
        self.workspace: Path | None = None
        self.settings = [
            "--set",
            f"cache_dir={root / 'cache'}",
            "--set",
            f"state_dir={root / 'state'}",
        ]

    def run(self) -> int:
        from nestr.demo.product import build_sample_product

        self.heading("A product of five repositories")
        self.say(f"Building local git remotes under {self.root / 'remotes'} …")
        self.product = build_sample_product(self.root)
        self.nestr(["manifest", "show"], cwd=self.product.manifest.parent)
        workspace = self.workspace = self.assembly()
        if self.temporal:
            self.workflow_on_temporal(workspace)
        else:
            self.workflow(workspace)
        self.sync(workspace)
        self.events()
        return 0

    # chapters ------------------------------------------------------------------------------

    def assembly(self) -> Path:
        product_dir = self.product.manifest.parent
        self.heading("Assemble an ephemeral workspace (cold cache)")
        cold = self.timed(["assemble", "--ephemeral", "--ttl", "2h"], cwd=product_dir)
        workspace = self.newest_workspace()
        self.heading("Status of every repo")
        self.nestr(["status"], cwd=workspace)
        self.heading("Run a command in each backend repo")
        self.nestr(
            ["foreach", "-g", "backend", "--", "git", "log", "-1", "--format=%h %s"], cwd=workspace
        )
        self.heading("Pin the revisions, then assemble again from the warm cache")
        self.nestr(["lock"], cwd=product_dir)
        warm = self.timed(["assemble", "--ephemeral", "--ttl", "2h", "--locked"], cwd=product_dir)
        speedup = cold / warm if warm else 0.0
        self.say(f"cold assembly {cold:.2f}s, warm assembly {warm:.2f}s: {speedup:.1f}× faster")
        return workspace

    def workflow(self, workspace: Path) -> None:
        self.heading("Run the ci workflow: lint, test, build per service, a flaky step retried")
        self.nestr(["run", "ci"], cwd=workspace)
        self.nestr(["runs", "list"], cwd=workspace)
        self.say("the summary step read the build steps' outputs:")
        self.nestr(["runs", "logs", self.latest_run(workspace), "summary"], cwd=workspace)

    def workflow_on_temporal(self, workspace: Path) -> None:
        from nestr.temporal.devserver import LocalCluster

        self.heading("Start a Temporal dev server and a nestr worker")
        with LocalCluster(self.root / "temporal") as cluster:
            self.say(f"temporal server start-dev on {cluster.server.address}; nestr worker")
            self.heading("Run the same ci workflow on Temporal: nothing changes in the YAML")
            flags = cluster.settings
            self.settings += flags
            try:
                self.nestr(["run", "ci", "--executor", "temporal"], cwd=workspace)
                self.nestr(["runs", "list"], cwd=workspace)
                self.say("its steps ran on the worker, which logged them to its own event log")
                self.nestr(["runs", "show", self.latest_run(workspace)], cwd=workspace)
            finally:
                del self.settings[-len(flags) :]

    def sync(self, workspace: Path) -> None:
        shared = self.product.manifest.parent / "shared"
        self.heading("Sync shared config into every repo")
        self.nestr(["sync", "plan"], cwd=workspace)
        self.say(
            "settings.cfg already exists in api and billing: --adopt merges it with the template"
        )
        self.nestr(
            ["sync", "apply", "--adopt", "--commit", "--message", "Adopt shared config"],
            cwd=workspace,
        )
        self.heading(
            "Local edits meet a changed source: a clean merge, and a conflict left for you"
        )
        api_cfg = workspace / "api" / "settings.cfg"
        api_cfg.write_text("# tuned for production\n" + api_cfg.read_text())
        billing_cfg = workspace / "billing" / "settings.cfg"
        billing_cfg.write_text(
            billing_cfg.read_text().replace("log_level = info", "log_level = debug")
        )
        self.say("local edits: a comment atop api/settings.cfg; log_level = debug in billing's")
        template = shared / "settings.cfg.j2"
        template.write_text(template.read_text() + "timeout = 30\n")
        manifest = self.product.manifest
        manifest.write_text(manifest.read_text().replace("log_level: info", "log_level: warning"))
        self.say(
            "source changes: the template gains `timeout = 30`; vars.log_level becomes warning"
        )
        self.nestr(
            ["sync", "plan", "--diff", "--repo", "api", "--repo", "billing"], cwd=workspace, ok=(3,)
        )
        branch = "nestr/sync-config"
        self.heading(f"Apply on a branch, {branch}: merged files committed, the conflict untouched")
        self.nestr(
            ["sync", "apply", "--commit", "--branch", branch, "--message", "Sync shared config"],
            cwd=workspace,
            ok=(3,),
        )
        self.nestr(["sync", "status"], cwd=workspace, ok=(0, 1, 3))
        self.nestr(
            ["foreach", "-g", "backend", "--", "git", "log", "-1", "--format=%D: %s"], cwd=workspace
        )

    def events(self) -> None:
        self.heading("Everything above was recorded as events")
        self.nestr(["events", "--type", "nestr.sync.file."], cwd=self.root)

    # plumbing ------------------------------------------------------------------------------

    def heading(self, text: str) -> None:
        click.secho(f"\n== {text}", fg="cyan", bold=True)

    def say(self, text: str) -> None:
        click.secho(text, dim=True)

    def nestr(self, args: Sequence[str], *, cwd: Path, ok: Sequence[int] = (0,)) -> int:
        from nestr.cli.main import main

        click.secho(f"$ nestr {' '.join(args)}", bold=True)
        code = main(["-C", str(cwd), *self.settings, *args])
        if code not in ok:
            raise WorkFailed(f"the demo step `nestr {' '.join(args)}` exited {code}")
        return code

    def timed(self, args: Sequence[str], *, cwd: Path) -> float:
        start = time.perf_counter()
        self.nestr(args, cwd=cwd)
        return time.perf_counter() - start

    def latest_run(self, cwd: Path) -> str:
        import contextlib
        import io
        import json

        from nestr.cli.main import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            main(["-C", str(cwd), *self.settings, "runs", "list", "--json"])
        runs = json.loads(out.getvalue())
        return str(max(runs, key=lambda r: r["created"])["id"])

    def newest_workspace(self) -> Path:
        from nestr.workspace.registry import registered

        entries = sorted(registered(self.root / "state"), key=lambda e: e.created)
        if not entries:
            raise WorkFailed("the demo could not find the workspace it assembled")
        return entries[-1].root
