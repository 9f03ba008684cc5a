"""Shell completion through Click's own machinery, in-process: names from the manifest."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from nestr.cli.main import main

MANIFEST = """\
version: 1
repos:
  - {name: api, url: https://example.com/api.git, groups: [backend]}
  - {name: web, url: https://example.com/web.git, path: front/web, groups: [frontend]}
  - {name: apps, url: https://example.com/apps.git, groups: [backend]}
workflows:
  build:
    description: Build it all
    steps:
      - {id: a, run: "true"}
  bench:
    steps:
      - {id: a, run: "true"}
"""


def complete(
    line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fmt="bash"
) -> list[str]:
    """What `nestr` offers for ``line`` (the cursor at its end) in the ``fmt`` shell's format."""
    words = shlex.split(line)
    cword = len(words) if line.endswith(" ") else len(words) - 1
    monkeypatch.setenv("COMP_WORDS", line)
    monkeypatch.setenv("COMP_CWORD", str(cword))
    monkeypatch.setenv("_NESTR_COMPLETE", f"{fmt}_complete")
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main([])
    out, err = capsys.readouterr()
    assert done.value.code == 0
    assert err == ""
    return [line for line in out.splitlines() if line]


@pytest.fixture
def project(cwd: Path) -> Path:
    (cwd / "nestr.yaml").write_text(MANIFEST)
    (cwd / "workflows").mkdir()
    (cwd / "workflows" / "ship.yaml").write_text(
        "name: deploy\ndescription: Ship it\nsteps:\n  - {id: a, run: 'true'}\n"
    )
    (cwd / "workflows" / "lint.yml").write_text("steps:\n  - {id: a, run: 'true'}\n")
    return cwd


def test_repo_names_complete_for_every_repo_option(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--repo of status, foreach, assemble and sync offers the manifest's repos by prefix."""
    assert complete("nestr status --repo a", monkeypatch, capsys) == ["plain,api", "plain,apps"]
    assert complete("nestr foreach --repo ", monkeypatch, capsys) == [
        "plain,api", "plain,web", "plain,apps",
    ]  # fmt: skip
    assert complete("nestr assemble --repo w", monkeypatch, capsys) == ["plain,web"]
    assert complete("nestr sync plan --repo w", monkeypatch, capsys) == ["plain,web"]


def test_group_names_complete(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """-g offers each group once."""
    assert complete("nestr status -g ", monkeypatch, capsys) == ["plain,backend", "plain,frontend"]


def test_workflow_names_complete_with_descriptions(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """run, graph and workflow validate offer the workflows of the manifest and of
    workflows/*.yaml (by their name:), the same names `workflow list` shows."""
    names = ["plain,build", "plain,bench", "plain,lint", "plain,deploy"]
    assert complete("nestr run ", monkeypatch, capsys) == names
    assert complete("nestr graph b", monkeypatch, capsys) == names[:2]
    assert complete("nestr workflow validate d", monkeypatch, capsys) == ["plain,deploy"]
    zsh = complete("nestr run b", monkeypatch, capsys, fmt="zsh")
    assert zsh == ["plain", "build", "Build it all", "plain", "bench", "_"]

    from nestr.manifest.loader import load_manifest
    from nestr.workflow.loading import load_workflows

    listed = load_workflows(load_manifest(project / "nestr.yaml"))
    assert sorted(listed) == sorted(n.split(",")[1] for n in names)


def test_the_manifest_named_by_m_or_c_is_used(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """-m typed before the word, or -C DIR, choose the manifest the command would read."""
    other = project / "other"
    other.mkdir()
    (other / "x.yaml").write_text(
        "version: 1\nrepos:\n  - {name: zeta, url: https://e.com/z.git}\n"
        "workflows:\n  zap:\n    steps:\n      - {id: a, run: 'true'}\n"
    )
    (other / "nestr.yaml").write_text((other / "x.yaml").read_text())
    assert complete("nestr run -m other/x.yaml ", monkeypatch, capsys) == ["plain,zap"]
    assert complete("nestr status -m other/x.yaml --repo ", monkeypatch, capsys) == ["plain,zeta"]
    monkeypatch.chdir(project.parent)
    line = f"nestr -C {other} status --repo "
    assert complete(line, monkeypatch, capsys) == ["plain,zeta"]


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nrepos: [\n",  # not YAML
        "version: 1\nrepos: 7\nworkflows: 3\n",  # wrong shapes
        "- just\n- a list\n",
    ],
)
def test_a_broken_or_missing_manifest_gives_no_suggestions(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """Completion never raises: nothing is offered, nothing is printed on stderr, exit 0."""
    assert complete("nestr status --repo ", monkeypatch, capsys) == []  # no manifest at all
    (cwd / "nestr.yaml").write_text(text)
    assert complete("nestr status --repo ", monkeypatch, capsys) == []
    assert complete("nestr run ", monkeypatch, capsys) == []
    assert complete("nestr status -g ", monkeypatch, capsys) == []
