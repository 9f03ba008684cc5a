"""``make proto-breaking``: ``buf breaking`` of ``proto/`` against the last release tag.

The last release is the highest ``v*`` tag by version (``git tag --sort=-v:refname``). Without
one there is nothing to compare against: a note, exit 0. Otherwise buf compares the working
tree's ``proto/`` with the tag's (the FILE rules of ``proto/buf.yaml``) and exits 100 on a
breaking change (a field removed or renumbered, a type changed, a service or method gone),
listing each. ``python proto/breaking.py [REPO]`` checks another repository (the tests do).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def latest_release(root: Path) -> str | None:
    """The highest ``v*`` tag of the repository at ``root``, or None."""
    listed = subprocess.run(
        ["git", "tag", "--list", "v*", "--sort=-v:refname"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    tags = listed.stdout.split()
    return tags[0] if tags else None


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else ROOT
    tag = latest_release(root)
    if tag is None:
        print("no release tag (v*) yet: nothing to check proto/ against")
        return 0
    if shutil.which("buf") is None:
        print("buf is not on PATH (npm install @bufbuild/buf)", file=sys.stderr)
        return 2
    against = f".git#tag={tag},subdir=proto"
    print(f"buf breaking proto --against {against}")
    done = subprocess.run(["buf", "breaking", "proto", "--against", against], cwd=root, check=False)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
