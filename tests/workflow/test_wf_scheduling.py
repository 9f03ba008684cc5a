"""Readiness-based scheduling, the concurrency limit, outputs between steps and foreach plans."""

from __future__ import annotations

from pathlib import Path

from nestr.workflow import ExecutorOptions


def test_fast_branch_does_not_wait_for_slow_branch(project, status_of) -> None:
    """A step starts as soon as its own needs are done: `fast2` runs while `slow` still waits
    for the file `fast2` creates (layer-by-layer scheduling would deadlock `slow` into failing)."""
    project.write(
        """
        release:
          steps:
            - id: start
              run: "true"
            - id: slow
              needs: [start]
              shell: true
              run: >-
                i=0; while [ ! -e fast2.done ]; do i=$((i+1)); [ $i -gt 500 ] && exit 1;
                sleep 0.02; done
            - id: fast
              needs: [start]
              run: "true"
            - id: fast2
              needs: [fast]
              run: touch fast2.done
        """
    )
    result = project.run("release")
    assert status_of(result) == {
        "start": "succeeded",
        "slow": "succeeded",
        "fast": "succeeded",
        "fast2": "succeeded",
    }


def test_concurrency_limit_is_never_exceeded(project) -> None:
    """With concurrency 2, the first two independent steps run together and no more than two
    ever run at once."""
    steps = "\n".join(
        f"""    - id: s{i}
      shell: true
      run: >-
        touch running/s{i} started/s{i}; ls running | wc -l >> counts;
        n=0; while [ $(ls started | wc -l) -lt 2 ]; do n=$((n+1)); [ $n -gt 500 ] && exit 1;
        sleep 0.01; done; rm running/s{i}"""
        for i in range(6)
    )
    project.write(f"limited:\n  concurrency: 2\n  steps:\n{steps}")
    (project.root / "running").mkdir()
    (project.root / "started").mkdir()
    result = project.run("limited", options=ExecutorOptions(concurrency=8))
    assert result.ok, result.to_dict()
    counts = [int(c) for c in (project.root / "counts").read_text().split()]
    assert len(counts) == 6
    assert max(counts) == 2


def test_outputs_flow_to_later_steps(project) -> None:
    """Outputs written to $NESTR_OUTPUT (one-line and multi-line) reach dependents' expressions
    and are stored with the step."""
    project.write(
        """
        out:
          steps:
            - id: produce
              shell: true
              run: >-
                printf 'version=1.2.3\\nnotes<<EOF\\nline one\\nline two\\nEOF\\n'
                >> "$NESTR_OUTPUT"
            - id: consume
              needs: [produce]
              run: >-
                sh -c 'echo "$1|$2" > got.txt' sh ${{ steps.produce.outputs.version }}
                "${{ steps.produce.outputs.notes }}"
        """
    )
    result = project.run("out")
    assert result.ok, result.to_dict()
    assert (project.root / "got.txt").read_text() == "1.2.3|line one\nline two\n"
    produce = next(s for s in result.steps if s.key == "produce")
    assert produce.outputs == {"version": "1.2.3", "notes": "line one\nline two"}


def test_inputs_are_typed_and_defaulted(project) -> None:
    """--var values are converted to the declared type and defaults fill the rest."""
    project.write(
        """
        typed:
          inputs:
            count: {type: number, default: 1}
            flag: {type: boolean, default: false}
            name: {default: world}
          steps:
            - id: show
              run: >-
                sh -c 'echo "$1" > got.txt' sh
                "${{ inputs.count + 1 }} ${{ inputs.flag }} ${{ inputs.name }}"
        """
    )
    result = project.run("typed", inputs={"count": "41", "flag": "yes"})
    assert result.ok, result.to_dict()
    assert (project.root / "got.txt").read_text() == "42 true world\n"


def test_cwd_and_env_are_applied(project: object, tmp_path: Path) -> None:
    """A step runs in its cwd (relative to the root) with workflow and step env merged."""
    project.write(  # type: ignore[attr-defined]
        """
        where:
          defaults:
            env: {A: from-defaults, B: from-defaults}
          steps:
            - id: here
              cwd: sub
              env: {B: "step-${{ env.A }}"}
              shell: true
              run: echo "$A $B $(basename "$PWD")" > ../got.txt
        """
    )
    root: Path = project.root  # type: ignore[attr-defined]
    (root / "sub").mkdir()
    result = project.run("where")  # type: ignore[attr-defined]
    assert result.ok, result.to_dict()
    assert (root / "got.txt").read_text() == "from-defaults step-from-defaults sub\n"


def test_runs_share_an_open_store_and_leave_it_open(project) -> None:
    """Two runs given one open store are both recorded in it, and the store stays usable."""
    from nestr.store.db import open_database
    from nestr.store.runs import RunStore

    project.write(
        """
        pair:
          steps:
            - id: a
              uses: noop
            - id: b
              needs: [a]
              run: "true"
        """
    )
    db = open_database(project.state_dir)
    try:
        first = project.run("pair", db=db)
        second = project.run("pair", db=db)
        assert first.ok
        assert second.ok
        runs = {r.id: r.status for r in RunStore(db).runs()}
        assert runs == {first.run_id: "succeeded", second.run_id: "succeeded"}
    finally:
        db.close()
