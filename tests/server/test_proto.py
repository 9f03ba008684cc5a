"""The protobuf API: the committed Python modules are what `make proto` generates, the .proto
files pass `buf lint` (STANDARD rules), and `buf breaking` finds no breaking change since the
last release tag (`make proto-breaking`, `proto/breaking.py`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "src" / "nestr" / "server" / "_proto"
BREAKING = ROOT / "proto" / "breaking.py"
needs_buf = pytest.mark.skipif(
    shutil.which("buf") is None,
    reason="buf is not on PATH (.ci/run installs it from npm: @bufbuild/buf)",
)


def test_generated_modules_are_up_to_date(tmp_path: Path) -> None:
    """Regenerating from proto/ gives byte-identical modules: a .proto edited without `make
    proto` (or a hand edit of the output) fails here."""
    out = tmp_path / "generated"
    subprocess.run([sys.executable, str(ROOT / "proto" / "generate.py"), str(out)], check=True)
    fresh = {p.name: p.read_bytes() for p in out.iterdir()}
    committed = {p.name: p.read_bytes() for p in COMMITTED.iterdir() if p.is_file()}
    stale = sorted(
        name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name)
    )
    assert stale == [], "run `make proto` and commit the result"


@needs_buf
def test_protos_pass_buf_lint() -> None:
    """`buf lint` with the STANDARD rules of proto/buf.yaml finds nothing."""
    done = subprocess.run(
        ["buf", "lint"], cwd=ROOT / "proto", capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def release_tags(root: Path) -> list[str]:
    """The ``v*`` tags of the repository at ``root``, highest version first."""
    listed = subprocess.run(
        ["git", "tag", "--list", "v*", "--sort=-v:refname"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def breaking(root: Path) -> subprocess.CompletedProcess[str]:
    """`python proto/breaking.py ROOT`: what `make proto-breaking` runs, for ``root``."""
    return subprocess.run(
        [sys.executable, str(BREAKING), str(root)], capture_output=True, text=True, check=False
    )


@needs_buf
def test_no_breaking_change_since_the_last_release() -> None:
    """`buf breaking` of proto/ against the highest v* tag finds nothing (skipped until the
    first release is tagged)."""
    tags = release_tags(ROOT)
    if not tags:
        pytest.skip("no release tag (v*) yet: there is nothing to compare proto/ against")
    done = breaking(ROOT)
    assert done.returncode == 0, f"breaking change since {tags[0]}:\n{done.stdout}{done.stderr}"


THING = """syntax = "proto3";

// A package for the test.
package nestr.v1;

// A thing.
message Thing {
  // Its name.
  string name = 1;
%s}
"""
SIZE = "  // Its size.\n  uint64 size = 2;\n"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@needs_buf
def test_the_check_reports_a_field_removed_since_the_release_tag(tmp_path: Path) -> None:
    """In a throwaway repo: no tag → a note and exit 0; tagged v0.1.0, the unchanged proto
    passes; with a field removed, buf names it and the check fails, from a worktree too."""
    repo = tmp_path / "repo"
    proto = repo / "proto" / "nestr" / "v1" / "thing.proto"
    proto.parent.mkdir(parents=True)
    (repo / "proto" / "buf.yaml").write_bytes((ROOT / "proto" / "buf.yaml").read_bytes())
    proto.write_text(THING % SIZE)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "thing")
    untagged = breaking(repo)
    assert (untagged.returncode, untagged.stdout) == (
        0,
        "no release tag (v*) yet: nothing to check proto/ against\n",
    )
    git(repo, "tag", "v0.1.0")
    assert breaking(repo).returncode == 0
    proto.write_text(THING % "")
    removed = breaking(repo)
    assert removed.returncode != 0
    assert 'field "2" with name "size" on message "Thing" was deleted' in removed.stdout
    git(repo, "commit", "-q", "-am", "drop size")
    git(repo, "worktree", "add", "-q", "--detach", str(tmp_path / "wt"), "HEAD")
    assert breaking(tmp_path / "wt").returncode != 0
