"""Scraping a real ``/metrics`` endpoint, reading its samples, and finding ``promtool``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

GUARD = 60.0  # seconds: a watcher that never catches up fails the test instead of hanging it
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def promtool() -> str:
    """The ``promtool`` binary, or a skip saying where it comes from."""
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "promtool is not installed (Debian's `prometheus` package; .ci/run installs it)"
        )
    return found


def scrape(url: str) -> str:
    assert url.startswith("http://"), url
    with urllib.request.urlopen(url, timeout=GUARD) as response:  # noqa: S310 (http only)
        text: str = response.read().decode("utf-8")
        return text


def samples(text: str) -> Samples:
    """Every sample of an exposition by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    """The sample ``name{labels}``, 0 when absent (a counter never incremented)."""
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape_after(url: str, seq: int) -> str:
    """The exposition once the endpoint has counted every event up to ``seq``."""
    deadline = time.monotonic() + GUARD
    while True:
        text = scrape(url)
        if value(samples(text), "nestr_event_seq") >= seq:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"the endpoint did not count up to seq {seq}:\n{text}")
        time.sleep(0.02)  # polling a condition, not a timing assertion


def family_names(text: str) -> set[str]:
    """The metric names an exposition declares (``# TYPE`` lines) and every sample name."""
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    return names | {name for name, _ in samples(text)}


def check_metrics(text: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` on ``text``."""
    return subprocess.run(
        [promtool(), "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )


@contextmanager
def running(argv: list[str], env: dict[str, str], prefix: str) -> Iterator[list[str]]:
    """A real ``nestr`` process; yields its first lines up to one starting with ``prefix``,
    then stops it with SIGTERM and checks it exited 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nestr", *argv],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        while lines[-1] and not lines[-1].startswith(prefix):
            lines.append(proc.stdout.readline())
        assert lines[-1].startswith(prefix), (lines, proc.stderr.read() if proc.stderr else "")
        yield lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=GUARD)
    assert proc.returncode == 0, err


def url_of(lines: list[str]) -> str:
    return next(line.split()[-1] for line in lines if line.startswith("metrics on "))


def state_env(state: Path, **extra: str) -> dict[str, str]:
    return {"NESTR_STATE_DIR": str(state), **extra}
