"""Start-up time: `nestr --help` and `nestr --version` against `west --help` and `vcs --help`.

Each command is a fresh process, timed from spawn to exit; rounds interleave the contenders and
the table shows medians and ratios to `west --help`. Goal: `nestr --help` ≤ 0.75× `west --help`.
west and vcstool are installed into their own venv under benchmarks/.work/venvs/.

    .venv/bin/python benchmarks/startup.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    NESTR_BIN,
    Contender,
    base_env,
    compile_sources,
    peer_venv,
    ratio,
    ratio_table,
    time_interleaved,
)

GOAL = 0.75


def command(argv: list[str]) -> Contender:
    env = base_env()

    def action(_round: int) -> None:
        subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )

    return Contender(
        " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)), action
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    compile_sources()
    peers = peer_venv("startup-peers", ["west==1.5.0", "vcstool==0.3.0"])
    contenders = [
        command([str(NESTR_BIN), "--help"]),
        command([str(NESTR_BIN), "--version"]),
        command([str(peers.bin("west")), "--help"]),
        command([str(peers.bin("vcs")), "--help"]),
        command([sys.executable, "-c", "pass"]),
    ]
    contenders[-1].name = "python -c pass (floor)"
    for contender in contenders:  # warm the page cache and .pyc files once
        contender.action(-1)
    time_interleaved(contenders, args.rounds)
    print(ratio_table(f"Start-up, {args.rounds} rounds", contenders, baseline="west --help"))
    help_ratio = ratio(contenders, "nestr --help", "west --help")
    if help_ratio is not None:
        verdict = "meets" if help_ratio <= GOAL else "misses"
        print(f"goal: nestr --help ≤ {GOAL}× west --help: {help_ratio:.2f}× ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
