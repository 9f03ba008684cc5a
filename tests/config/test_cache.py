"""The configuration kept between commands: same result as a full load, never stale, no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nestr import inputcache
from nestr.config.build import build_config
from nestr.config.cache import Probe
from nestr.config.layers import LayerInputs
from nestr.config.loader import LoadedConfig, load_config
from nestr.errors import ConfigError

SECRET = "s3cr3t-Value-42"
HEAVY = ("pydantic", "yaml", "nestr.config.model", "nestr.config.build", "nestr.yamlsource")


def inputs(cwd: Path, **kwargs: object) -> LayerInputs:
    return LayerInputs(
        cwd=cwd,
        environ=kwargs.pop("environ", dict(os.environ)),  # type: ignore[arg-type]
        system_dir=cwd / "etc",
        **kwargs,  # type: ignore[arg-type]
    )


def aged(path: Path, text: str) -> Path:
    """Write ``text`` with a modification time in the past (times must not matter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def cached(layer_inputs: LayerInputs) -> LoadedConfig | None:
    """What the cache holds for these inputs right now (None on a miss)."""
    return Probe(layer_inputs).lookup()


def entries() -> list[Path]:
    return sorted(inputcache.cache_root().glob("config-*.json"))


def test_hit_equals_a_full_load(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached load gives the same settings, origins and files as reading every layer."""
    aged(cwd / "nestr.config.yaml", "jobs: 3\nlog:\n  level: debug\ncache_dir: c\n")
    monkeypatch.setenv("NESTR_GIT__TIMEOUT", "9")
    given = inputs(cwd, sets=["temporal.namespace=n"], flag_values={"log.format": ("json", "f")})
    first = load_config(given)
    hit = cached(given)
    assert hit is not None
    full = build_config(given)
    assert (hit.settings, hit.origins, hit.files) == (full.settings, full.origins, full.files)
    assert (hit.settings.jobs, hit.settings.cache_dir) == (3, cwd / "c")
    assert str(hit.origins["jobs"]) == f"{cwd / 'nestr.config.yaml'}:1"
    assert hit.origins["jobs"].location.column == 7
    assert load_config(given) == first


def test_editing_a_file_invalidates(cwd: Path) -> None:
    """A changed config file is read again, not served from the cache."""
    config = aged(cwd / "nestr.config.yaml", "jobs: 3\n")
    assert load_config(inputs(cwd)).settings.jobs == 3
    aged(config, "jobs: 4\n")
    assert cached(inputs(cwd)) is None
    assert load_config(inputs(cwd)).settings.jobs == 4


def test_a_new_project_file_invalidates(cwd: Path) -> None:
    """A nestr.config.yaml created above the working directory later is picked up."""
    deep = cwd / "proj" / "a"
    deep.mkdir(parents=True)
    assert load_config(inputs(deep)).settings.jobs == 8
    assert cached(inputs(deep)) is not None
    aged(cwd / "proj" / "nestr.config.yaml", "jobs: 5\n")
    assert load_config(inputs(deep)).settings.jobs == 5


def test_a_new_user_file_invalidates(cwd: Path) -> None:
    """The user config file appearing under $XDG_CONFIG_HOME is picked up."""
    assert load_config(inputs(cwd)).settings.jobs == 8
    aged(Path(os.environ["XDG_CONFIG_HOME"]) / "nestr" / "config.yaml", "jobs: 6\n")
    assert load_config(inputs(cwd)).settings.jobs == 6


def test_changing_variables_and_flags_invalidates(
    cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each NESTR_* variable, --set, --env and flag value is part of what an entry matches."""
    aged(cwd / "etc" / "nestr.ci.yaml", "jobs: 11\n")
    monkeypatch.setenv("NESTR_JOBS", "3")
    assert load_config(inputs(cwd)).settings.jobs == 3
    monkeypatch.setenv("NESTR_JOBS", "4")
    assert load_config(inputs(cwd)).settings.jobs == 4
    monkeypatch.delenv("NESTR_JOBS")
    assert load_config(inputs(cwd)).settings.jobs == 8
    assert load_config(inputs(cwd, env_name="ci")).settings.jobs == 11
    assert load_config(inputs(cwd, sets=["jobs=2"])).settings.jobs == 2
    flags = {"log.level": ("error", "flag --log-level")}
    assert load_config(inputs(cwd, flag_values=flags)).settings.log.level == "error"
    assert load_config(inputs(cwd)).settings.log.level == "info"


def test_variables_nestr_sets_for_children_do_not_invalidate(
    cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NESTR_RUN_ID and NESTR_REPO_* (ignored by the loader) keep the cached entry valid."""
    load_config(inputs(cwd))
    monkeypatch.setenv("NESTR_RUN_ID", "r-1")
    monkeypatch.setenv("NESTR_REPO_NAME", "api")
    assert cached(inputs(cwd)) is not None


def test_defaults_follow_xdg_dirs(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A different XDG_STATE_HOME changes the default state_dir, never a stale one."""
    load_config(inputs(cwd))
    monkeypatch.setenv("XDG_STATE_HOME", str(cwd / "state"))
    assert load_config(inputs(cwd)).settings.state_dir == cwd / "state" / "nestr"


def test_an_edit_right_after_caching_is_seen(cwd: Path) -> None:
    """A config file written a moment ago is cached at once; a same-size edit right after is
    still read (the entry matches content, not time stamps)."""
    (cwd / "nestr.config.yaml").write_text("jobs: 3\n", encoding="utf-8")
    assert load_config(inputs(cwd)).settings.jobs == 3
    assert cached(inputs(cwd)) is not None
    (cwd / "nestr.config.yaml").write_text("jobs: 4\n", encoding="utf-8")
    assert cached(inputs(cwd)) is None
    assert load_config(inputs(cwd)).settings.jobs == 4


def test_errors_are_never_cached(cwd: Path) -> None:
    """A bad file gives its located error every time, even right after a good one was cached."""
    config = aged(cwd / "nestr.config.yaml", "jobs: 3\n")
    load_config(inputs(cwd))
    aged(config, "jobs: many\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"nestr.config.yaml:1:7: jobs: .*integer"):
            load_config(inputs(cwd))
    assert cached(inputs(cwd)) is None


@pytest.mark.parametrize(
    "how", ["file", "file-key", "env", "env-file", "set", "secrets-dir"], ids=str
)
def test_secrets_never_reach_the_cache(
    how: str, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a token is set in any way, nothing is cached and no entry holds it."""
    token_file = aged(cwd / "token.txt", SECRET)
    sets: list[str] = []
    if how == "file":
        aged(cwd / "nestr.config.yaml", f"server:\n  token: {SECRET}\n")
    elif how == "file-key":
        aged(cwd / "nestr.config.yaml", "server:\n  token_file: token.txt\n")
    elif how == "env":
        monkeypatch.setenv("NESTR_SERVER__TOKEN", SECRET)
    elif how == "env-file":
        monkeypatch.setenv("NESTR_SERVER__TOKEN_FILE", str(token_file))
    elif how == "set":
        sets = [f"server.token={SECRET}"]
    else:
        aged(cwd / "secrets" / "server.token", SECRET)
        monkeypatch.setenv("NESTR_SECRETS_DIR", str(cwd / "secrets"))
    for _ in range(2):
        token = load_config(inputs(cwd, sets=sets)).settings.server.token
        assert token is not None
        assert token.get_secret_value() == SECRET
    assert entries() == []
    root = Path(os.environ["XDG_CACHE_HOME"])
    assert not any(SECRET.encode() in p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_secrets_dir_alone_turns_the_cache_off(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With NESTR_SECRETS_DIR set, a token file added to it later is seen at once."""
    (cwd / "secrets").mkdir()
    monkeypatch.setenv("NESTR_SECRETS_DIR", str(cwd / "secrets"))
    assert load_config(inputs(cwd)).settings.server.token is None
    aged(cwd / "secrets" / "server.token", SECRET)
    assert load_config(inputs(cwd)).settings.server.token is not None
    assert entries() == []


def test_entries_hold_only_a_digest_of_the_environment(
    cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Variable values and --set values are matched by digest, not written out."""
    monkeypatch.setenv("NESTR_TEMPORAL__NAMESPACE", "value-of-a-variable")
    load_config(inputs(cwd, sets=["temporal.task_queue=value-of-a-flag"]))
    (entry,) = entries()
    data = json.loads(entry.read_text())
    assert "NESTR_TEMPORAL__NAMESPACE" not in json.dumps(data["fingerprint"])
    assert "value-of-a-flag" not in json.dumps(data["fingerprint"])


def test_switched_off_by_environment(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NESTR_NO_INPUT_CACHE=1 neither reads a (doctored) entry nor writes one."""
    load_config(inputs(cwd))
    (entry,) = entries()
    data = json.loads(entry.read_text())
    data["value"]["settings"]["jobs"] = 99  # proves which path served the result
    entry.write_text(json.dumps(data))
    assert load_config(inputs(cwd)).settings.jobs == 99
    monkeypatch.setenv("NESTR_NO_INPUT_CACHE", "1")
    assert load_config(inputs(cwd)).settings.jobs == 8
    entry.unlink()
    load_config(inputs(cwd))
    assert entries() == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: b"{truncated",
        lambda d: json.dumps({**d, "value": {"settings": {}}}).encode(),
        lambda d: json.dumps({**d, "value": {**d["value"], "origins": {"jobs": [1]}}}).encode(),
    ],
    ids=["not-json", "missing-keys", "bad-origin"],
)
def test_corrupt_entry_is_ignored_and_replaced(cwd: Path, damage: object) -> None:
    """A damaged entry is a miss: the full load runs and writes a good entry again."""
    aged(cwd / "nestr.config.yaml", "jobs: 3\n")
    load_config(inputs(cwd))
    (entry,) = entries()
    entry.write_bytes(damage(json.loads(entry.read_text())))  # type: ignore[operator]
    assert load_config(inputs(cwd)).settings.jobs == 3
    assert cached(inputs(cwd)) is not None


def test_cli_hit_imports_no_pydantic_or_yaml(cwd: Path) -> None:
    """A second `nestr config show` is served from the cache: same output, no pydantic or YAML."""
    aged(cwd / "nestr.config.yaml", "jobs: 3\n")
    code = (
        "import sys\nfrom nestr.cli.main import main\n"
        "rc = main(['--set', 'git.timeout=9', 'config', 'show', '--origin'])\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\nsys.exit(rc)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert "'pydantic'" in runs[0].stderr
    assert "HEAVY []" in runs[1].stderr
    assert runs[0].stdout == runs[1].stdout
    assert f"{cwd / 'nestr.config.yaml'}:1  jobs = 3" in runs[1].stdout
