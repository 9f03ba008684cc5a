"""Looking at live processes from a test (Linux ``/proc``): did anything outlive what it ran in?"""

from __future__ import annotations

from pathlib import Path


def _state(stat_text: str) -> str:
    # the command name (field 2) may hold spaces and parentheses: the state follows the last ")"
    return stat_text.rsplit(")", 1)[1].split(maxsplit=1)[0]


def process_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie runs nothing and counts as gone)."""
    try:
        return _state(Path(f"/proc/{pid}/stat").read_text()) not in {"Z", "X"}
    except (OSError, IndexError):
        return False


def live_pids() -> list[int]:
    """Every process that is running now (zombies left out), by pid."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and process_running(int(entry.name))
    ]
