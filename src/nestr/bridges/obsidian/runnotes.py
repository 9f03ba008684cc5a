"""A finished run as Obsidian notes, rendered from plain data (no disk, no store).

The run's note holds its front matter (workflow, status, started, duration, repos,
correlation id) and a block with the DAG as a Mermaid flowchart, the failed steps with the
end of their output, and links to the repos' notes; a repo's note lists its recent runs; the
daily note lists the day's runs. Lines that list a run start with its link, so a rewrite
replaces a run's line instead of adding a second one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATUS_MARK = {"succeeded": "✅", "failed": "❌", "cancelled": "⛔", "skipped": "⏭"}
_MERMAID_CLASSES = {
    "succeeded": "fill:#d4f7d4,stroke:#2b8a3e",
    "failed": "fill:#ffd6d6,stroke:#c92a2a",
    "cancelled": "fill:#eeeeee,stroke:#868e96",
    "skipped": "fill:#f8f9fa,stroke:#adb5bd,stroke-dasharray:3",
}


@dataclass(frozen=True)
class StepSummary:
    """One step instance of a run, as its note shows it."""

    key: str  # test or test[api]
    step_id: str
    status: str
    repo: str | None = None
    seconds: float | None = None
    error: str | None = None
    log_tail: str = ""


@dataclass(frozen=True)
class RunSummary:
    """What a run's note says."""

    run_id: str
    workflow: str
    status: str
    started: float  # epoch seconds
    seconds: float | None
    steps: tuple[StepSummary, ...]
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # step id -> ids
    correlation_id: str | None = None

    @property
    def repos(self) -> list[str]:
        return sorted({s.repo for s in self.steps if s.repo})

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.started).astimezone()


def run_title(run: RunSummary) -> str:
    """The run note's title: workflow, local start time, short id (unique per run)."""
    return f"{run.workflow} {run.started_at:%Y-%m-%d %H%M%S} {run.run_id[:8]}"


def run_properties(run: RunSummary) -> dict[str, Any]:
    """The run note's front matter keys (Obsidian shows them as properties)."""
    return {
        "workflow": run.workflow,
        "status": run.status,
        "started": run.started_at.isoformat(timespec="seconds"),
        "duration": None if run.seconds is None else round(run.seconds, 3),
        "repos": run.repos,
        "correlation_id": run.correlation_id,
        "run_id": run.run_id,
    }


def run_body(run: RunSummary, repo_links: Mapping[str, str]) -> str:
    """The run note's block: summary line, DAG, failed steps, repos."""
    parts = [
        f"# {run.workflow}: {STATUS_MARK.get(run.status, '')} {run.status}\n",
        f"Run `{run.run_id}`, started {run.started_at:%Y-%m-%d %H:%M:%S}{_took(run.seconds)}.\n",
        "## Steps\n",
        mermaid(run),
    ]
    failed = [s for s in run.steps if s.status == "failed"]
    if failed:
        parts.append("## Failed steps\n")
        parts.extend(_failure(step) for step in failed)
    if repo_links:
        parts.append("## Repos\n")
        parts.append("".join(f"- [[{link}|{name}]]\n" for name, link in sorted(repo_links.items())))
    return "\n".join(parts)


def run_line(run: RunSummary, link: str, *, with_date: bool) -> str:
    """One line listing ``run`` (a repo's or the daily note's list), starting with its link."""
    when = f"{run.started_at:%Y-%m-%d %H:%M}" if with_date else f"{run.started_at:%H:%M}"
    mark = STATUS_MARK.get(run.status, "")
    return f"- [[{link}|{run.workflow}]] {mark} {run.status}, {when}{_took(run.seconds)}\n"


def upsert_line(body: str | None, line: str, *, newest_first: bool, keep: int | None = None) -> str:
    """``body``'s list with ``line`` in place of the line for the same link (else added at the
    top or the end), cut to ``keep`` lines."""
    target = _link_of(line)
    lines = [x for x in (body or "").splitlines(keepends=True) if x.strip()]
    kept = [x for x in lines if _link_of(x) != target]
    if any(_link_of(x) == target for x in lines):
        index = next(i for i, x in enumerate(lines) if _link_of(x) == target)
        kept.insert(index, line)
    elif newest_first:
        kept.insert(0, line)
    else:
        kept.append(line)
    return "".join(kept[:keep] if keep is not None else kept)


_LINK = re.compile(r"\[\[([^\]|#]+)")


def _link_of(line: str) -> str | None:
    found = _LINK.search(line)
    return found.group(1) if found else None


def mermaid(run: RunSummary) -> str:
    """The run's DAG as a Mermaid flowchart, one node per step (the worst status of its
    instances), an edge per ``needs``."""
    order = list(dict.fromkeys(s.step_id for s in run.steps))
    node = {step_id: f"s{i}" for i, step_id in enumerate(order)}
    status = {
        step_id: _worst([s.status for s in run.steps if s.step_id == step_id]) for step_id in order
    }
    lines = ["```mermaid", "flowchart LR"]
    lines += [f'  {node[s]}["{_label(s)}"]:::{status[s]}' for s in order]
    lines += [
        f"  {node[need]} --> {node[s]}"
        for s in order
        for need in run.needs.get(s, ())
        if need in node
    ]
    lines += [f"  classDef {name} {style}" for name, style in _MERMAID_CLASSES.items()]
    lines.append("```")
    return "\n".join(lines) + "\n"


def _label(step_id: str) -> str:
    return step_id.replace('"', "#quot;").replace("[", "#91;").replace("]", "#93;")


def _worst(statuses: Sequence[str]) -> str:
    for status in ("failed", "cancelled", "running", "pending", "skipped"):
        if status in statuses:
            return status
    return "succeeded"


def _failure(step: StepSummary) -> str:
    head = f"### {step.key}\n\n{step.error or 'failed'}{_took(step.seconds)}\n"
    if not step.log_tail:
        return head
    fence = "`" * max(3, _longest_backticks(step.log_tail) + 1)
    return f"{head}\n{fence}text\n{step.log_tail.rstrip()}\n{fence}\n"


def _longest_backticks(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def _took(seconds: float | None) -> str:
    return "" if seconds is None else f" in {seconds:.1f} s"
