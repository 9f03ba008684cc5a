"""`nestr --server ADDR …` prints what the same command prints locally: status, assemble, lock,
sync plan/apply, runs list/show and events, against a real `nestr serve` over the sample
product (real git remotes, the same state dir).

What must differ is named where it is masked: durations and run ids (two runs of the same work),
and the fields of `assemble --json` the event stream does not carry.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from nestr.demo.product import SampleProduct

from .conftest import Serving, timeless

Nestr = Any  # the in-process CLI fixture of tests/conftest.py


def both(nestr: Nestr, product: SampleProduct, server: Serving, *args: str) -> tuple[Any, Any]:
    """``args`` run here (in the product's directory) and through the server."""
    here = nestr("-C", str(product.manifest.parent), *args)
    there = nestr("--server", server.address, *args)
    return here, there


def test_status_is_the_same_table_and_json(
    nestr: Nestr, product: SampleProduct, server: Serving
) -> None:
    """The status table (a dirty repo, a missing one) and --json are identical, exit codes too."""
    root = product.manifest.parent
    (root / "api" / "scratch.txt").write_text("local work\n")
    (root / "billing" / "billing.py").write_text("changed\n")
    here, there = both(nestr, product, server, "status")
    assert "1 untracked" in here.out
    assert "1 unstaged" in here.out
    assert (there.code, there.out) == (here.code, here.out)
    here, there = both(nestr, product, server, "status", "--json", "-g", "backend")
    assert (there.code, json.loads(there.out)) == (here.code, json.loads(here.out))


def test_assemble_prints_the_same_summary_and_progress(
    nestr: Nestr, product: SampleProduct, server: Serving
) -> None:
    """Re-assembling through the server prints the summary and the progress lines a local
    assembly prints (durations masked; progress in arrival order, which concurrency varies)."""
    here, there = both(nestr, product, server, "assemble")
    assert there.code == here.code == 0
    assert timeless(there.out) == timeless(here.out)
    assert "unchanged api" in there.out
    assert sorted(timeless(there.err).splitlines()) == sorted(timeless(here.err).splitlines())


def test_assemble_json_matches_but_for_what_the_stream_does_not_carry(
    nestr: Nestr, product: SampleProduct, server: Serving
) -> None:
    """`assemble --json` through the server has the same repos, counts and exit code; the
    workspace's id and manifest path are not on the event stream and come back empty."""
    here, there = both(nestr, product, server, "assemble", "--json")
    local, remote = json.loads(here.out), json.loads(there.out)
    assert (remote["workspace_id"], remote["manifest"]) == ("", "")
    for shown in (local, remote):
        for key in ("workspace_id", "manifest", "seconds"):
            del shown[key]
        for repo in shown["repos"]:
            del repo["seconds"]
    assert remote == local


def test_lock_writes_the_same_lock(nestr: Nestr, product: SampleProduct, server: Serving) -> None:
    """`lock` through the server resolves and reports the same commits."""
    here, there = both(nestr, product, server, "lock")
    assert there.code == here.code == 0
    assert there.out == here.out


def test_sync_plan_and_apply_print_the_same(
    nestr: Nestr, product: SampleProduct, server: Serving, tmp_path: Path
) -> None:
    """`sync plan --diff` is identical; `sync apply` on the server's workspace prints what a
    local apply prints on a twin workspace, and leaves the same files."""
    root = product.manifest.parent
    here, there = both(nestr, product, server, "sync", "plan", "--diff")
    assert "+++ b/.editorconfig" in here.out
    assert (there.code, there.out) == (here.code, here.out)
    here, there = both(nestr, product, server, "sync", "plan", "--json")
    assert json.loads(there.out) == json.loads(here.out)
    twin = tmp_path / "twin"
    assert nestr("-C", str(root), "assemble", "-w", str(twin)).code == 0
    here = nestr("-C", str(root), "sync", "apply", "-w", str(twin), "--adopt")
    there = nestr("--server", server.address, "sync", "apply", "--adopt")
    assert "create        .editorconfig" in here.out
    assert (there.code, there.out) == (here.code, here.out)
    assert (root / "worker" / ".editorconfig").read_text() == (
        twin / "worker" / ".editorconfig"
    ).read_text()


def test_a_repo_sync_cannot_plan_is_reported_the_same(
    nestr: Nestr, product: SampleProduct, server: Serving
) -> None:
    """A repo missing from the workspace is that repo's error (message, hint, exit code) in
    `sync plan` and `sync apply`, through the server as here; the other repos are still done."""
    shutil.rmtree(product.manifest.parent / "worker")
    for args in (
        ["sync", "plan"],
        ["sync", "plan", "--json"],
        ["sync", "apply", "--repo", "worker"],
    ):
        here, there = both(nestr, product, server, *args)
        assert here.code != 0
        assert "worker" in here.out
        assert "error" in here.out
        assert (there.code, there.out) == (here.code, here.out)


def test_run_then_runs_list_and_show_match(
    nestr: Nestr, product: SampleProduct, server: Serving
) -> None:
    """`run ci` through the server prints the summary and progress a local run prints (run ids
    and durations masked) and exits the same; `runs list` and `runs show` are identical."""
    root = product.manifest.parent
    here = nestr("-C", str(root), "run", "ci")
    (root / ".flaky-ran").unlink()  # the flaky step fails once per fresh directory
    there = nestr("--server", server.address, "run", "ci")
    assert there.code == here.code == 0
    assert timeless(there.out) == timeless(here.out)
    assert "flaky-integration  succeeded <s>  2 attempts" in timeless(there.out)
    assert sorted(timeless(there.err).splitlines()) == sorted(timeless(here.err).splitlines())
    here, there = both(nestr, product, server, "runs", "list")
    assert there.out == here.out
    assert len(here.out.splitlines()) == 2
    newest = here.out.split()[0]
    for args in (["runs", "show", newest], ["runs", "show", newest[:6], "--json"]):
        here, there = both(nestr, product, server, *args)
        assert (there.code, there.out) == (here.code, here.out)


def test_events_print_the_same_lines(nestr: Nestr, product: SampleProduct, server: Serving) -> None:
    """`events` (text, --json, --type, --run) prints the same log through the server."""
    assert nestr("-C", str(product.manifest.parent), "run", "ci").code == 0
    run = nestr("runs", "list").out.split()[0]
    for args in (
        ["events"],
        ["events", "--json", "--since", "5"],
        ["events", "--type", "nestr.workflow.step"],
        ["events", "--run", run[:5]],
    ):
        here, there = both(nestr, product, server, *args)
        assert here.out.strip()
        assert (there.code, there.out) == (here.code, here.out)
