"""Values in shell scripts are data: each reaches the script through a variable, never as text.

Every test runs real shells on hostile values and checks both that the command a value holds
did not run (its marker file is absent) and that the value arrived byte for byte.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nestr.testing import GitRepo
from nestr.workspace.record import Workspace, write_record

PAYLOADS = [
    "$(touch pwned)",
    "`touch pwned`",
    '"; touch pwned; echo "',
    "'; touch pwned; echo '",
    '$(id -un)\'"`touch pwned`"',
    "a\n$(touch pwned)\ntouch pwned\n;touch pwned",
    "EOF\ntouch pwned\nEOF",
    "${HOME} $((1+1)) * ~ \\ \\$(touch pwned)",
]

# Each script writes what it received to got.txt; `expect` is what a value V must give there.
SCRIPTS = {
    "double quotes": ("printf '%s' \"pre-${{ inputs.v }}-post\" > got.txt", "pre-{}-post"),
    "bare word": ("printf '%s|' ${{ inputs.v }} > got.txt", "{}|"),
    "backticks": ("x=`printf '%s' ${{ inputs.v }}`; printf '%s' \"$x\" > got.txt", "{}"),
    "command substitution": (
        'x="$(printf "%s" "${{ inputs.v }}")"; printf \'%s\' "$x" > got.txt',
        "{}",
    ),
    "here-document": ("cat > got.txt <<EOF\n[${{ inputs.v }}]\nEOF", "[{}]\n"),
    "tab-stripped here-document": ("cat > got.txt <<-END\n\t${{ inputs.v }}\n\tEND", "{}\n"),
    "parameter default": ("printf '%s' \"${UNSET:-${{ inputs.v }}}\" > got.txt", "{}"),
}


def _no_marker(root: Path) -> None:
    assert sorted(root.rglob("pwned*")) == []


def _inject(project, run: str, *, shell: bool = True) -> None:
    project.write(
        f"""
        inject:
          inputs:
            v: {{}}
          steps:
            - id: s
              shell: {"true" if shell else "false"}
              run: {json.dumps(run)}
        """
    )


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("shape", sorted(SCRIPTS))
def test_shell_true_script_receives_value_as_data(project, shape: str, payload: str) -> None:
    """In every quoting context a script may use, the value arrives intact and runs nothing."""
    run, expect = SCRIPTS[shape]
    _inject(project, run)
    result = project.run("inject", inputs={"v": payload})
    assert result.ok, result.to_dict()
    _no_marker(project.root)
    assert (project.root / "got.txt").read_text() == expect.format(payload)


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    "run",
    [
        'sh -c \'printf "%s" "${{ inputs.v }}" > got.txt\'',
        "/bin/bash -ec 'printf %s ${{ inputs.v }} > got.txt'",
        'env LC_ALL=C dash -c \'x=$(printf %s "${{ inputs.v }}"); printf %s "$x" > got.txt\'',
    ],
)
def test_argv_shell_c_script_receives_value_as_data(project, run: str, payload: str) -> None:
    """The -c script of an argv that runs a shell (by name, by path, through env) gets values
    through variables too."""
    if shutil.which("bash") is None or shutil.which("dash") is None:
        pytest.skip("needs bash and dash")
    _inject(project, run, shell=False)
    result = project.run("inject", inputs={"v": payload})
    assert result.ok, result.to_dict()
    _no_marker(project.root)
    assert (project.root / "got.txt").read_text() == payload


def test_uses_shell_script_receives_value_as_data(project) -> None:
    """`uses: shell` with `with.script` is a shell script as well."""
    payload = '"$(touch pwned)"'
    project.write(
        """
        inject:
          inputs:
            v: {}
          steps:
            - id: s
              uses: shell
              with: {script: 'printf "%s" "<${{ inputs.v }}>" > got.txt'}
        """
    )
    result = project.run("inject", inputs={"v": payload})
    assert result.ok, result.to_dict()
    _no_marker(project.root)
    assert (project.root / "got.txt").read_text() == f"<{payload}>"


def test_var_on_the_command_line_reaches_the_script_as_data(project, nestr) -> None:
    """`--var v='$(id -un)'` in a double-quoted file name creates a file named after the
    literal text, not after the command's output."""
    _inject(project, 'touch "pwned-${{ inputs.v }}"; printf %s "${{ inputs.v }}" > got.txt')
    result = nestr("run", "inject", "-m", str(project.manifest_path), "--var", "v=$(id -un)")
    assert result.code == 0, result
    assert (project.root / "pwned-$(id -un)").exists()
    assert [p.name for p in project.root.glob("pwned-*")] == ["pwned-$(id -un)"]
    assert (project.root / "got.txt").read_text() == "$(id -un)"


def test_step_output_reaches_the_script_as_data(project) -> None:
    """A multi-line step output full of shell syntax arrives intact in the next script."""
    value = '$(touch pwned)\n`touch pwned`\n"; touch pwned'
    project.write(
        """
        inject:
          steps:
            - id: produce
              shell: true
              run: |
                {
                  echo 'evil<<END'
                  echo '$(touch pwned)'
                  echo '`touch pwned`'
                  echo '"; touch pwned'
                  echo 'END'
                } >> "$NESTR_OUTPUT"
            - id: consume
              needs: [produce]
              shell: true
              run: printf '%s' "${{ steps.produce.outputs.evil }}" > got.txt
        """
    )
    result = project.run("inject")
    assert result.ok, result.to_dict()
    _no_marker(project.root)
    assert (project.root / "got.txt").read_text() == value


def test_foreach_repo_values_reach_the_script_as_data(project, tmp_path: Path) -> None:
    """`repo.*` values (here a URL holding shell syntax) reach a foreach script as data."""
    url = "file:///nowhere/$(touch pwned)`touch pwned`"
    project.write(
        """
        inject:
          steps:
            - id: s
              foreach: {all: true}
              shell: true
              run: printf '%s %s' "${{ repo.name }}" ${{ repo.url }} > got.txt
        """,
        f"repos:\n  - {{name: api, url: {json.dumps(url)}}}",
    )
    workspace = project.root / "ws"
    GitRepo.init(workspace / "api", files={"README.md": "x\n"})
    write_record(
        Workspace(
            root=workspace,
            manifest_path=project.manifest_path,
            id="ws1",
            created=datetime.now(UTC),
        )
    )
    result = project.run("inject", workspace_root=workspace)
    assert result.ok, result.to_dict()
    _no_marker(project.root)
    assert (workspace / "api" / "got.txt").read_text() == f"api {url}"


@pytest.mark.parametrize(
    ("run", "words"),
    [
        ("echo '${{ inputs.v }}'", "inside single quotes"),
        ("cat <<'EOF'\n${{ inputs.v }}\nEOF", "quoted here-document"),
        ('eval "echo ${{ inputs.v }}"', "argument of eval"),
        ("echo $(( ${{ inputs.v }} + 1 ))", "arithmetic context"),
        ('sh -c "echo ${{ inputs.v }}"', "nested shell"),
        ("echo \\${{ inputs.v }}", "follows a backslash"),
    ],
)
def test_unsafe_place_is_refused_before_anything_runs(project, nestr, run: str, words: str) -> None:
    """Where a script cannot receive a value as data the workflow is refused, exit 2, with the
    step's file:line, the `run` field and a hint; nothing runs."""
    _inject(project, f"touch ran; {run}")
    result = nestr("run", "inject", "-m", str(project.manifest_path), "--var", "v=$(touch pwned)")
    assert result.code == 2, result
    assert words in result.err
    assert "nestr.yaml:" in result.err
    assert "steps[0].run" in result.err or "steps.0.run" in result.err, result.err
    assert "hint:" in result.err
    assert not (project.root / "ran").exists()
    _no_marker(project.root)
    validated = nestr("workflow", "validate", "-m", str(project.manifest_path))
    assert validated.code == 2
    assert words in validated.err


def test_argv_shell_c_in_single_quotes_of_the_script_is_refused(project, nestr) -> None:
    """`bash -c "… '${{ x }}' …"` (argv form) is refused like a shell: true script."""
    _inject(project, "bash -c \"echo '${{ inputs.v }}'\"", shell=False)
    result = nestr("run", "inject", "-m", str(project.manifest_path), "--var", "v=x")
    assert result.code == 2, result
    assert "inside single quotes" in result.err


def test_value_choosing_a_shell_cannot_smuggle_a_script(project) -> None:
    """`${{ a }} -c "${{ b }}"` with a=sh would make b a script: the step fails, nothing runs."""
    project.write(
        """
        inject:
          inputs:
            a: {}
            b: {}
          steps:
            - {id: s, run: '${{ inputs.a }} -c "${{ inputs.b }}"'}
        """
    )
    result = project.run("inject", inputs={"a": "sh", "b": "touch pwned"})
    assert not result.ok
    assert "would be the script of a shell" in (result.steps[0].error or "")
    _no_marker(project.root)


@pytest.mark.parametrize(
    "run",
    [
        "printf '%s' \"${{ inputs.v }}\" > got.txt",  # shell: true, via an environment variable
    ],
)
def test_nul_byte_in_a_value_fails_the_step_clearly(project, run: str) -> None:
    """A NUL byte cannot travel in an environment variable or an argument: the step fails with
    a message that says so, and nothing runs."""
    _inject(project, run)
    result = project.run("inject", inputs={"v": "a\0$(touch pwned)"})
    assert not result.ok
    assert "NUL byte" in (result.steps[0].error or ""), result.to_dict()
    assert not (project.root / "got.txt").exists()
    _no_marker(project.root)


def test_nul_byte_in_an_argv_value_fails_the_step_clearly(project) -> None:
    """The same holds for a value substituted into an argv element."""
    _inject(project, "touch ${{ inputs.v }}", shell=False)
    result = project.run("inject", inputs={"v": "pwned\0x"})
    assert not result.ok
    assert "NUL byte" in (result.steps[0].error or ""), result.to_dict()
    _no_marker(project.root)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ('a "b ${{ x }}" ${{ y }}', 'a "b ${NESTR_EXPR_1}" "${NESTR_EXPR_2}"'),
        (
            'echo `echo ${{ x }}` $(echo "${{ y }}")',
            'echo `echo "${NESTR_EXPR_1}"` $(echo "${NESTR_EXPR_2}")',
        ),
        (
            "cat <<E\n${{ x }}\nE\necho ${{ y }}",
            'cat <<E\n${NESTR_EXPR_1}\nE\necho "${NESTR_EXPR_2}"',
        ),
        ("echo ${A:-${{ x }}} # ${{ y }}", 'echo ${A:-"${NESTR_EXPR_1}"} # ${NESTR_EXPR_2}'),
        ("sh -c 'echo \"$1\"' sh ${{ x }}", 'sh -c \'echo "$1"\' sh "${NESTR_EXPR_1}"'),
        ('[[ "${{ x }}" == a ]]', '[[ "${NESTR_EXPR_1}" == a ]]'),
    ],
)
def test_rewrite_references_each_value_by_context(script: str, expected: str) -> None:
    """Each expression becomes a variable reference quoted for where it stands."""
    from nestr.workflow.shellscript import rewrite

    assert rewrite(script).text == expected


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("echo $'${{ x }}'", "single quotes"),
        ('cat <<"E"\n${{ x }}\nE', "quoted here-document"),
        ("(( n = ${{ x }} ))", "arithmetic"),
        ('let "n=${{ x }}"', "eval or let"),
        ('echo "${s:${{ x }}}"', "arithmetic"),
        ('echo "${a[${{ x }}]}"', "arithmetic"),
        ('[[ "${{ x }}" -eq 1 ]]', "-eq"),
        ('x=1; command eval "$(echo ${{ x }})"', "eval or let"),
        ('/bin/bash -ec "echo ${{ x }}"', "nested shell"),
    ],
)
def test_rewrite_refuses_places_a_value_would_be_evaluated(script: str, words: str) -> None:
    """Where the shell would not expand the variable or would evaluate the value, the script
    is refused with a reason and a hint."""
    from nestr.workflow.shellscript import ShellSubstitutionError, rewrite

    with pytest.raises(ShellSubstitutionError, match=words) as raised:
        rewrite(script)
    assert raised.value.hint


def test_uses_shell_argv_script_receives_value_as_data(project) -> None:
    """`uses: shell` with an argv list that runs `sh -c` gets values through variables too."""
    payload = "'\"$(touch pwned)"
    project.write(
        """
        inject:
          inputs:
            v: {}
          steps:
            - id: s
              uses: shell
              with: {argv: [sh, -c, 'printf "%s" "${{ inputs.v }}" > got.txt']}
        """
    )
    result = project.run("inject", inputs={"v": payload})
    assert result.ok, result.to_dict()
    _no_marker(project.root)
    assert (project.root / "got.txt").read_text() == payload


@pytest.mark.parametrize(
    ("words", "index"),
    [
        (["sh", "-c", None], 2),
        (["/bin/bash", "-o", "pipefail", "-ec", None, "name"], 4),
        (["/usr/bin/env", "-i", "A=1", "dash", "--", None], None),
        (["env", "-u", "X", "zsh", "-c", None], 5),
        (["busybox", "sh", "-c", None], 3),
        (["sh", "script.sh", None], None),
        (["sh", None, None], None),
        (["python3", "-c", None], None),
        ([None, "-c", None], None),
    ],
)
def test_shell_script_index_finds_the_c_script(words: list[str | None], index: int | None) -> None:
    """The -c script of a shell is found by name, by path, after env or busybox; a word that
    holds an expression is never taken for the program or an option."""
    from nestr.workflow.shellargv import shell_script_index

    assert shell_script_index(words) == index
