"""The protobuf API: the committed Python modules are what `make proto` generates, and the
.proto files pass `buf lint` (STANDARD rules)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "src" / "nestr" / "server" / "_proto"


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


@pytest.mark.skipif(
    shutil.which("buf") is None,
    reason="buf is not on PATH (.ci/run installs it from npm: @bufbuild/buf)",
)
def test_protos_pass_buf_lint() -> None:
    """`buf lint` with the STANDARD rules of proto/buf.yaml finds nothing."""
    done = subprocess.run(
        ["buf", "lint"], cwd=ROOT / "proto", capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
