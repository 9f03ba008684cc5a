"""Reloading configuration in a long-running process."""

from __future__ import annotations

import os
import queue
from pathlib import Path

from nestr.config.layers import LayerInputs
from nestr.config.live import ConfigWatcher, LiveConfig, ReloadResult
from nestr.config.loaded import LoadedConfig
from nestr.config.settings import Secret
from nestr.errors import ConfigError


def live_config(tmp_path: Path) -> LiveConfig:
    return LiveConfig(
        LayerInputs(cwd=tmp_path, environ=dict(os.environ), system_dir=tmp_path / "etc")
    )


def test_reload_swaps_in_a_valid_config_and_reports_changes(tmp_path: Path) -> None:
    """A valid edit is swapped in and the changed keys are reported with old and new values."""
    config = tmp_path / "nestr.config.yaml"
    config.write_text("jobs: 2\n")
    live = live_config(tmp_path)
    config.write_text("jobs: 3\nlog:\n  level: debug\n")
    result = live.reload()
    assert result.ok
    assert result.changed == {"jobs": (2, 3), "log.level": ("info", "debug")}
    assert live.current.settings.jobs == 3


def test_invalid_reload_keeps_the_old_config(tmp_path: Path) -> None:
    """An invalid edit leaves the old config in force and reports the error's location."""
    config = tmp_path / "nestr.config.yaml"
    config.write_text("jobs: 2\n")
    live = live_config(tmp_path)
    config.write_text("jobs: 2\nlog:\n  level: loud\n")
    result = live.reload()
    assert not result.ok
    assert result.error is not None
    assert "nestr.config.yaml:3:10: log.level" in result.error.message
    assert live.current.settings.log.level == "info"
    assert live.current.settings.jobs == 2


def test_reload_with_new_environment(tmp_path: Path) -> None:
    """reload(environ=...) re-reads environment variables too."""
    live = live_config(tmp_path)
    result = live.reload(environ={"NESTR_JOBS": "5"})
    assert result.changed == {"jobs": (8, 5)}


def test_watcher_reloads_when_files_are_rewritten(tmp_path: Path) -> None:
    """A running watcher notices rewrites: a bad one is refused, a good one is applied."""
    config = tmp_path / "nestr.config.yaml"
    config.write_text("jobs: 2\n")
    live = live_config(tmp_path)
    results: queue.Queue[ReloadResult] = queue.Queue()
    with ConfigWatcher(live, results.put, interval=0.01):
        config.write_text("jobs: -1\n")
        bad = results.get(timeout=10)
        assert bad.error is not None
        assert "jobs" in bad.error.message
        assert live.current.settings.jobs == 2
        tmp = tmp_path / "new.yaml"
        tmp.write_text("jobs: 7\n")
        tmp.replace(config)  # editors save by rename: a new inode
        good = results.get(timeout=10)
        assert good.ok
        assert good.changed == {"jobs": (2, 7)}
    assert live.current.settings.jobs == 7


def test_watcher_sees_a_project_file_appear(tmp_path: Path) -> None:
    """Creating a config file that did not exist triggers a reload."""
    live = live_config(tmp_path)
    results: queue.Queue[ReloadResult] = queue.Queue()
    with ConfigWatcher(live, results.put, interval=0.01):
        (tmp_path / "nestr.config.yaml").write_text("jobs: 11\n")
        assert results.get(timeout=10).changed == {"jobs": (8, 11)}


def test_a_changed_secret_is_reported_masked_and_its_file_is_watched(tmp_path: Path) -> None:
    """A new token in a `server.token_file` counts as a change (shown masked, never in clear),
    and that file is among the watched ones."""
    token = tmp_path / "token"
    token.write_text("first-secret\n")
    (tmp_path / "nestr.config.yaml").write_text("server:\n  token_file: token\n")
    live = live_config(tmp_path)
    assert token in live.watched_files()
    token.write_text("second-secret\n")
    result = live.reload()
    assert result.changed == {"server.token": ("********", "********")}
    assert live.current.settings.server.token == Secret("second-secret")


def test_a_check_that_refuses_the_new_config_keeps_the_old_one(tmp_path: Path) -> None:
    """A valid config the caller's check refuses is not swapped in; the check's error is
    reported."""
    config = tmp_path / "nestr.config.yaml"
    config.write_text("jobs: 2\n")
    live = live_config(tmp_path)
    config.write_text("jobs: 3\n")

    def refuse(new: LoadedConfig) -> None:
        raise ConfigError(f"jobs {new.settings.jobs} is not allowed here", field="jobs")

    result = live.reload(check=refuse)
    assert result.error is not None
    assert result.error.message == "jobs: jobs 3 is not allowed here"
    assert live.current.settings.jobs == 2
