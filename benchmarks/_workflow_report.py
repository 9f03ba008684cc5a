"""The workflow benchmark's results: scenarios, per-engine cells, the tables and the goals."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

WIDTH = CONCURRENCY = 10
NESTR = "nestr"
SQLITE_FLOOR = "floor: asyncio + SQLite"
SPAWN_FLOOR = "floor: spawn only"
DBOS = "DBOS (SQLite)"
PREFECT = "Prefect 3 (ephemeral)"
TEMPORAL = "Temporal (dev server)"
NESTR_TEMPORAL = "nestr on Temporal"


@dataclass(frozen=True)
class Scenario:
    kind: str  # "noop" or "true"
    steps: int

    @property
    def label(self) -> str:
        return f"{self.steps} {self.kind} steps"

    @property
    def slug(self) -> str:
        return f"{self.kind}-{self.steps}"


SCENARIOS = (Scenario("noop", 100), Scenario("noop", 1000), Scenario("true", 100))


@dataclass
class Cell:
    """The results of one engine on one scenario."""

    runs: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None

    def median(self, key: str) -> float | None:
        values = [run[key] for run in self.runs]
        return statistics.median(values) if values else None


def table(scenario: Scenario, names: list[str], cells: dict[str, Cell]) -> str:
    """One scenario's table: a row per engine, medians and ratios to nestr."""
    nestr_ms = per_step_ms(cells[NESTR], scenario)
    nestr_mb = rss_mb(cells[NESTR])
    head = (
        f"{'engine':<26} {'rounds':>6} {'total s':>9} {'ms/step':>9} {'x nestr':>8} "
        f"{'peak RSS MB':>12} {'x nestr':>8}"
    )
    lines = [f"{scenario.label} (layered DAG, width {WIDTH}, concurrency {CONCURRENCY})", head]
    for name in names:
        cell = cells[name]
        if cell.skipped == "n/a":
            continue
        if not cell.runs:
            reason = cell.error or cell.skipped or "not run"
            lines.append(f"{name:<26} {'-':>6} {'did not run: ' + reason}")
            continue
        ms, mb = per_step_ms(cell, scenario), rss_mb(cell)
        row = (
            f"{name:<26} {len(cell.runs):>6} {cell.median('seconds') or 0:>9.3f} "
            f"{ms or 0:>9.3f} {times(ms, nestr_ms):>8} {mb or 0:>12.1f} {times(mb, nestr_mb):>8}"
        )
        children = (cell.median("children_rss_kb") or 0) / 1024
        if children >= 1:
            row += f"  (+{children:.0f} MB in its server process)"
        if cell.error:
            row += f"  [later round failed: {cell.error}]"
        lines.append(row)
    return "\n".join(lines)


def per_step_ms(cell: Cell, scenario: Scenario) -> float | None:
    seconds = cell.median("seconds")
    return None if seconds is None else seconds * 1000 / scenario.steps


def rss_mb(cell: Cell) -> float | None:
    kb = cell.median("peak_rss_kb")
    return None if kb is None else kb / 1024


def times(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "-"
    return f"{value / reference:.2f}x"


def goals(results: dict[str, dict[str, Cell]]) -> list[str]:
    """Each goal as one line: met / MISSED / n/a, with the numbers behind it."""
    noop = [s for s in SCENARIOS if s.kind == "noop"]
    true100, noop1000 = Scenario("true", 100), Scenario("noop", 1000)

    def ratios(peer: str, over: str, scenarios: list[Scenario]) -> list[tuple[str, float]]:
        found = []
        for scenario in scenarios:
            cells = results.get(scenario.slug, {})
            top, bottom = cells.get(peer), cells.get(over)
            a = per_step_ms(top, scenario) if top else None
            b = per_step_ms(bottom, scenario) if bottom else None
            if a is not None and b:
                found.append((scenario.label, a / b))
        return found

    def verdict(text: str, found: list[tuple[str, float]], ok: bool) -> str:
        if not found:
            return f"  n/a     {text}: not measured"
        shown = ", ".join(f"{label}: {value:.2f}x" for label, value in found)
        return f"  {'met   ' if ok else 'MISSED'}  {text} ({shown})"

    lines = ["Goals"]
    floor = ratios(NESTR, SQLITE_FLOOR, noop)
    lines.append(verdict("nestr per-step <= 2x the SQLite floor", floor,
                         all(v <= 2 for _, v in floor)))  # fmt: skip
    for peer, factor in ((DBOS, 10), (TEMPORAL, 25), (PREFECT, 100)):
        found = ratios(peer, NESTR, noop)
        text = f"nestr per-step >= {factor}x lower than {peer.split(' ')[0]}"
        lines.append(verdict(text, found, all(v >= factor for _, v in found)))
    on_temporal = ratios(NESTR_TEMPORAL, TEMPORAL, noop)
    lines.append(verdict("nestr on Temporal within 1.2x of the plain Temporal DSL workflow",
                         on_temporal, all(v <= 1.2 for _, v in on_temporal)))  # fmt: skip
    spawn = ratios(NESTR, SPAWN_FLOOR, [true100])
    lines.append(verdict("100 `true` steps within 1.3x of spawning them (same concurrency)",
                         spawn, all(v <= 1.3 for _, v in spawn)))  # fmt: skip
    cell = results.get(noop1000.slug, {}).get(NESTR)
    mb = rss_mb(cell) if cell else None
    memory = [(noop1000.label, mb)] if mb is not None else []
    text = "nestr peak RSS of a 1,000-step run < 60 MB"
    line = (
        verdict(text, [], False)
        if mb is None
        else (f"  {'met   ' if mb < 60 else 'MISSED'}  {text} ({memory[0][1]:.1f} MB)")
    )
    lines.append(line)
    return lines
