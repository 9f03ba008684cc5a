"""Values substituted into commands are data: never parsed by a shell, never split."""

from __future__ import annotations

import pytest

PAYLOADS = [
    "; touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "x && touch pwned",
    "a b | touch pwned",
    "'; touch pwned; echo '",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_input_stays_one_inert_argv_element(project, payload: str) -> None:
    """An input holding shell syntax reaches the program as exactly one argument and runs
    nothing (the file it would create does not appear)."""
    project.write(
        """
        inject:
          inputs:
            name: {}
          steps:
            - id: echo
              run: >-
                python3 -c "import sys,json;open('argv.json','w').write(json.dumps(sys.argv[1:]))"
                ${{ inputs.name }}
        """
    )
    result = project.run("inject", inputs={"name": payload})
    assert result.ok, result.to_dict()
    assert (project.root / "argv.json").read_text() == __import__("json").dumps([payload])
    assert not (project.root / "pwned").exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_shell_true_passes_substituted_values_as_one_word(project, payload: str) -> None:
    """With shell: true a bare substituted value reaches the script as one word, through a
    variable: the script sees it as text and the file it would create does not appear."""
    project.write(
        """
        inject:
          inputs:
            name: {}
          steps:
            - id: echo
              shell: true
              run: printf '%s' ${{ inputs.name }} > got.txt
        """
    )
    result = project.run("inject", inputs={"name": payload})
    assert result.ok, result.to_dict()
    assert (project.root / "got.txt").read_text() == payload
    assert not (project.root / "pwned").exists()


def test_step_output_cannot_inject_either(project) -> None:
    """An upstream step's output with shell syntax is also one inert argument downstream."""
    project.write(
        """
        inject:
          steps:
            - id: produce
              shell: true
              run: echo 'evil=$(touch pwned); touch pwned' >> "$NESTR_OUTPUT"
            - id: consume
              needs: [produce]
              run: >-
                python3 -c "import sys; open('got.txt', 'w').write(repr(sys.argv[1:]))"
                ${{ steps.produce.outputs.evil }}
        """
    )
    result = project.run("inject")
    assert result.ok, result.to_dict()
    assert (project.root / "got.txt").read_text() == repr(["$(touch pwned); touch pwned"])
    assert not (project.root / "pwned").exists()
