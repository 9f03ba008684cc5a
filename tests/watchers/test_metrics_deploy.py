"""The shipped Prometheus rules and Grafana dashboard: valid for promtool, their unit tests
pass, and every metric they use is one nestr exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from .metrics_helpers import family_names, promtool, running, scrape, state_env, url_of

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
RULES_TEST = DEPLOY / "prometheus" / "rules_test.yml"
DASHBOARD = DEPLOY / "grafana" / "nestr.json"
METRIC = re.compile(r"\bnestr_[a-z_]+\b")
HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")


def rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def promtool_run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [promtool(), *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)


def test_rules_pass_promtool_check_and_their_unit_tests() -> None:
    """`promtool check rules` accepts rules.yml, and `promtool test rules` passes its tests
    (each alert fires on the series it is meant for and stays quiet on the others)."""
    checked = promtool_run("check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout
    tested = promtool_run("test", "rules", RULES_TEST.name, cwd=RULES_TEST.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Every query of the dashboard parses: promtool checks them as recording rules (Grafana's
    `$__rate_interval` replaced by a duration)."""
    exprs = dashboard_exprs()
    rules = [
        {"record": f"nestr_dashboard_query_{n}", "expr": e.replace("$__rate_interval", "5m")}
        for n, e in enumerate(exprs)
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), "utf-8")
    checked = promtool_run("check", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in checked.stdout


def test_every_metric_used_is_exported(tmp_path: Path) -> None:
    """Each metric the rules and the dashboard name is in the exposition of `nestr serve` with
    metrics on (a histogram through its `_bucket`/`_sum`/`_count` series)."""
    used = {name for expr in rule_exprs() + dashboard_exprs() for name in METRIC.findall(expr)}
    assert {"nestr_runs_total", "nestr_stream_lag_events", "nestr_stream_overflows_total"} <= used
    env = state_env(tmp_path, NESTR_METRICS__LISTEN="127.0.0.1:0")
    with running(["serve", "--listen", "127.0.0.1:0"], env, "metrics on ") as lines:
        exported = family_names(scrape(url_of(lines)))
    missing = {
        name
        for name in used
        if name not in exported and name.removesuffix(_part(name)) not in exported
    }
    assert not missing, f"not exported: {sorted(missing)}"


def _part(name: str) -> str:
    return next((part for part in HISTOGRAM_PARTS if name.endswith(part)), "")
