"""`make bench`: run every benchmark in turn and print its table.

Each benchmark is a standalone script; one that fails is reported and the others still run.
Pass ``--quick`` for fewer rounds and sizes (what CI-like smoke runs use).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = [
    "startup.py",
    "assembly.py",
    "workflow.py",
    "sync.py",
    "events_stream.py",
    "plugins.py",
    "watchers.py",
    "tui.py",
]
QUICK_ARGS = {
    "startup.py": ["--rounds", "10"],
    "assembly.py": ["--quick"],
    "workflow.py": ["--quick"],
    "sync.py": ["--quick"],
    "events_stream.py": ["--quick"],
    "plugins.py": ["--quick"],
    "watchers.py": ["--quick"],
    "tui.py": ["--quick"],
}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    here = Path(__file__).resolve().parent
    failed = []
    for name in BENCHMARKS:
        script = here / name
        if not script.exists():
            print(f"== {name}: missing", flush=True)
            failed.append(name)
            continue
        print(f"== {name}", flush=True)
        argv = [sys.executable, str(script), *(QUICK_ARGS[name] if quick else [])]
        if subprocess.run(argv, check=False).returncode != 0:
            failed.append(name)
        print(flush=True)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
