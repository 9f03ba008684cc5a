"""`nestr manifest validate` checks the whole manifest: repos, `workflows:` and `sync:`."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPOS = """\
version: 1
repos:
  - {name: api, url: file:///x/api, groups: [backend]}
  - {name: web, url: file:///x/web}
"""


def write(root: Path, text: str) -> Path:
    (root / "shared").mkdir(exist_ok=True)
    path = root / "nestr.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def located(err: str) -> list[str]:
    """The ``line:col: field: message`` of each error line, in printed order."""
    return re.findall(r"^error: nestr\.yaml:(\d+:\d+: .*)$", err, flags=re.MULTILINE)


def test_a_broken_workflow_fails_manifest_validation(nestr, cwd: Path) -> None:
    """A cycle and an unknown step type in `workflows:` make `manifest validate` exit 2 at
    their positions (it used to say the manifest is valid)."""
    write(
        cwd,
        REPOS
        + """workflows:
  ci:
    steps:
      - {id: a, needs: [b], run: "true"}
      - {id: b, needs: [a], uses: git.tagg}
""",
    )
    result = nestr("manifest", "validate")
    assert result.code == 2, result
    assert located(result.err) == [
        "8:25: workflows.ci.steps[0].needs[0]: dependency cycle: a → b → a",
        "9:35: workflows.ci.steps[1].uses: unknown step type 'git.tagg'",
    ]
    assert "hint: did you mean 'git.tag'?" in result.err


def test_every_broken_sync_source_and_rule_is_reported(nestr, cwd: Path) -> None:
    """Bad sync sources and rules are all reported by `manifest validate`, each at its value,
    including rules after one whose fields do not type-check."""
    write(
        cwd,
        REPOS
        + """sync:
  sources: [{path: shared}, {path: nowhere}]
  rules:
    - {files: [a], dest: ../out}
    - {files: [a], policy: sometimes}
    - {files: [a], repos: {names: [apj]}}
    - {files: [a], source: nope}
""",
    )
    result = nestr("manifest", "validate")
    assert result.code == 2, result
    assert located(result.err) == [
        "6:36: sync.sources[1].path: source directory "
        f"{(cwd / 'nowhere').resolve()} does not exist",
        "8:26: sync.rules[0].dest: '../out' leads outside the repo ('..')",
        "9:20: sync.rules[1].policy: expected one of merge, overwrite, create-only or"
        ' managed-block; got "sometimes"',
        "10:36: sync.rules[2].repos.names[0]: no repo named 'apj' in the manifest",
        "11:28: sync.rules[3].source: no source named 'nope'; sources are shared, nowhere",
    ]
    assert result.err.endswith("5 problems found\n")


def test_repos_workflows_and_sync_problems_come_out_together(nestr, cwd: Path) -> None:
    """An unknown repo key does not hide the workflow and sync problems further down; sync
    checks that need the repos are skipped while the repos do not load."""
    write(
        cwd,
        """version: 1
repos:
  - {name: api, url: file:///x/api, revison: v1}
workflows:
  ci:
    steps:
      - {id: a, needs: [ghost], run: "true"}
sync:
  sources: [{path: shared}]
  rules:
    - {files: [/etc/passwd], repos: {names: [not-checked]}}
""",
    )
    result = nestr("manifest", "validate")
    assert result.code == 2
    assert located(result.err) == [
        "3:37: repos[0].revison: unknown key",
        "7:25: workflows.ci.steps[0].needs[0]: unknown step 'ghost' in needs",
        "11:16: sync.rules[0].files[0]: expected a relative path inside the repo; "
        "got '/etc/passwd'",
    ]


def test_json_uses_the_workflow_validate_shape(nestr, cwd: Path) -> None:
    """`manifest validate --json` prints the same {valid, errors, manifest, repos, active,
    workflows} document as `workflow validate --json`, only JSON on stdout, exit 2."""
    path = write(
        cwd,
        REPOS
        + """workflows:
  ci:
    steps:
      - {id: a, run: "true", timeout: soon}
sync:
  sources: [{path: shared}]
  rules: [{files: [a], dset: b}]
""",
    )
    result = nestr("manifest", "validate", "--json")
    assert result.code == 2
    data = json.loads(result.out)
    assert set(data) == {"valid", "errors", "manifest", "repos", "active", "workflows"}
    assert (data["valid"], data["repos"], data["active"], data["workflows"]) == (
        False,
        2,
        2,
        ["ci"],
    )
    assert [(e["line"], e["field"], e["hint"]) for e in data["errors"]] == [
        (8, "workflows.ci.steps[0].timeout", None),
        (11, "sync.rules[0].dset", "did you mean 'dest'?"),
    ]
    assert all(e["file"] == str(path) for e in data["errors"])
    same = nestr("workflow", "validate", "--json")
    assert set(json.loads(same.out)) == set(data)


def test_a_valid_manifest_with_workflows_and_sync_passes(nestr, cwd: Path) -> None:
    """Nothing to report: exit 0 and a summary that counts the workflows."""
    write(
        cwd,
        REPOS
        + """workflows:
  ci:
    steps:
      - {id: a, run: "true"}
sync:
  sources: [{path: shared}]
  rules: [{files: [a], repos: {groups: [backend]}}]
""",
    )
    result = nestr("manifest", "validate")
    summary = "manifest is valid: 2 repos (2 active), 1 workflow(s)\n"
    assert (result.code, result.out) == (0, summary)


def test_a_mistyped_repo_does_not_hide_the_other_repos_problems(nestr, cwd: Path) -> None:
    """An unknown key in one repo no longer hides the unknown remote, bad path and duplicate
    name of the others; the mistyped repo itself is reported once."""
    write(
        cwd,
        """version: 1
remotes:
  - {name: origin, url_base: https://h.example}
repos:
  - {name: a, remote: origin, bogus: 1}
  - {name: b, remote: orgin}
  - {name: c, remote: origin, path: ../x}
  - {name: b, remote: origin}
""",
    )
    result = nestr("manifest", "validate")
    assert result.code == 2
    assert located(result.err) == [
        "5:31: repos[0].bogus: unknown key",
        "6:23: repos[1].remote: unknown remote 'orgin'",
        "7:37: repos[2].path: path '../x' leaves the workspace ('..')",
        "8:12: repos[3].name: repo 'b' is defined twice",
    ]
    assert "unchecked" not in result.err


def test_a_broken_remote_keeps_repo_checks_for_later(nestr, cwd: Path) -> None:
    """When a remote itself is mistyped, repos naming remotes are not blamed for it."""
    write(
        cwd,
        """version: 1
remotes:
  - {name: origin, url_base: https://h.example, bogus: 1}
repos:
  - {name: a, remote: origin, bogus: 1}
  - {name: b, remote: origin}
""",
    )
    result = nestr("manifest", "validate")
    assert [line.split(": ")[1] for line in located(result.err)] == [
        "remotes[0].bogus",
        "repos[0].bogus",
    ]
