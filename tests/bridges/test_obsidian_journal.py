"""A run written into a temp vault: notes that Obsidian reads, and a person's edits kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.bridges.vaults import front_matter, notes, unresolved_links, wikilinks

from nestr.bridges.obsidian.journal import JournalLayout, write_run
from nestr.bridges.obsidian.runnotes import RunSummary, StepSummary
from nestr.bridges.obsidian.vault import Vault
from nestr.workflow.protocols import StepFailed

STARTED = 1796623200.0  # 2026-12-07 06:00 UTC


def a_run(
    run_id: str = "0123456789abcdef", *, status: str = "failed", started: float = STARTED
) -> RunSummary:
    return RunSummary(
        run_id=run_id,
        workflow="release",
        status=status,
        started=started,
        seconds=12.5,
        steps=(
            StepSummary("build", "build", "succeeded", seconds=3.0),
            StepSummary(
                "test[api]",
                "test",
                "failed",
                repo="api",
                seconds=4.0,
                error="`pytest` exited 1",
                log_tail="collected 3 items\nE   assert 1 == 2",
            ),
            StepSummary("test[web]", "test", "succeeded", repo="web", seconds=2.0),
            StepSummary("deploy", "deploy", "skipped"),
        ),
        needs={"test": ("build",), "deploy": ("test",)},
        correlation_id="corr-42",
    )


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    (tmp_path / "vault").mkdir()
    return Vault.at(tmp_path / "vault")


def test_run_note_has_front_matter_dag_failures_and_links_that_resolve(vault: Vault) -> None:
    """The run's note parses as YAML front matter with the run's facts, draws the DAG in
    Mermaid, shows the failed step's log excerpt, and every link in the vault resolves."""
    written = write_run(vault, a_run())

    meta = front_matter(written.run)
    assert meta["workflow"] == "release"
    assert meta["status"] == "failed"
    assert meta["started"].startswith("2026-12-0")
    assert meta["duration"] == 12.5
    assert meta["repos"] == ["api", "web"]
    assert meta["correlation_id"] == "corr-42"
    text = written.run.read_text()
    assert "```mermaid\nflowchart LR\n" in text
    assert "s0 --> s1" in text
    assert "s1 --> s2" in text
    assert "E   assert 1 == 2" in text
    assert "### test[api]" in text
    assert sorted(wikilinks(written.run)) == ["nestr/repos/api", "nestr/repos/web"]
    assert unresolved_links(vault.root) == []
    assert front_matter(vault.root / "nestr/repos/api.md")["repo"] == "api"


def test_a_persons_edits_outside_the_block_survive_a_rewrite(vault: Vault) -> None:
    """Text a person adds above and below nestr's block and a front matter key they add stay
    when the run is written again; nestr's block and keys take the new values."""
    written = write_run(vault, a_run(status="failed"))
    text = written.run.read_text()
    head, rest = text.split("---\n", 2)[1:]
    edited = (
        f"---\n{head}tags: [incident]\n---\nMy notes before.\n{rest}\n## Follow-up\n- call Ann\n"
    )
    written.run.write_text(edited)

    again = write_run(vault, a_run(status="succeeded"))

    assert again.run == written.run
    result = written.run.read_text()
    assert "My notes before.\n" in result
    assert result.endswith("## Follow-up\n- call Ann\n")
    meta = front_matter(written.run)
    assert meta["tags"] == ["incident"]
    assert meta["status"] == "succeeded"
    assert result.count("# release:") == 1
    assert "✅ succeeded" in result


def test_daily_note_is_appended_to_once_per_run(vault: Vault) -> None:
    """The day's note keeps the person's text; a run adds one line to nestr's list, writing
    it again adds nothing, and a second run adds a second line after the first."""
    daily = vault.root / "2026-12-07.md"
    first = write_run(vault, a_run())
    daily = first.daily
    daily.write_text("# Monday\nplans for today\n\n" + daily.read_text())

    write_run(vault, a_run())
    write_run(vault, a_run("fedcba9876543210", status="succeeded", started=STARTED + 60))

    text = daily.read_text()
    assert text.startswith("# Monday\nplans for today\n")
    lines = [line for line in text.splitlines() if line.startswith("- [[")]
    assert len(lines) == 2
    assert "01234567" in lines[0]
    assert "fedcba98" in lines[1]
    assert unresolved_links(vault.root) == []


def test_repo_note_lists_recent_runs_newest_first_and_cut(vault: Vault) -> None:
    """A repo's note lists its runs newest first, one line per run, at most `recent_runs`."""
    layout = JournalLayout(recent_runs=2)
    for n in range(3):
        write_run(vault, a_run(f"{n:016x}", started=STARTED + n * 60), layout)
    lines = [
        line
        for line in (vault.root / "nestr/repos/api.md").read_text().splitlines()
        if line.startswith("- [[")
    ]
    assert len(lines) == 2
    assert "0000000000000002"[:8] in lines[0]
    assert "0000000000000001"[:8] in lines[1]


def test_a_log_line_that_looks_like_a_marker_cannot_end_the_block(vault: Vault) -> None:
    """A failed step whose output holds nestr's closing marker is written so that the next
    rewrite still replaces the whole block (the person's text after it stays once)."""
    marker = "<!-- <<< nestr managed: run <<< -->"
    run = a_run()
    hostile = replace(run, steps=(replace(run.steps[1], log_tail=f"x\n{marker}\ny"),))
    written = write_run(vault, hostile)
    written.run.write_text(written.run.read_text() + "mine\n")
    write_run(vault, hostile)
    write_run(vault, run)
    text = written.run.read_text()
    assert text.count("mine\n") == 1
    assert f"\n{marker}\n" in text
    assert text.count(marker) == 1


def test_hostile_titles_and_folders_stay_in_the_vault(tmp_path: Path, vault: Vault) -> None:
    """Titles with `..`, slashes, brackets, colons and control characters become file names
    inside the vault; a folder climbing out is refused; nothing appears outside the vault."""
    outside_before = notes(tmp_path)
    long = "終" * 300  # 900 bytes of UTF-8: more than a file name may hold
    for title in (
        "../../escape",
        "a/b\\c",
        "..",
        "[[x]]: y?*",
        "\x00\x1b[31m",
        " .hidden",
        "#^|",
        long,
    ):
        link = vault.link("nestr", title)
        path = vault.write(link, "note", "hello\n")
        assert path.resolve().is_relative_to(vault.root)
        assert path.parent == vault.root / "nestr"
    for folder in ("../outside", "/etc", "a/../../b"):
        with pytest.raises(Exception, match="must stay inside the vault"):
            vault.link(folder, "x")
    created = set(notes(tmp_path)) - set(outside_before)
    assert all(name.startswith("vault/nestr/") for name in created), created


def test_a_symlink_in_the_vault_is_never_written_through(tmp_path: Path, vault: Vault) -> None:
    """A folder of the vault that is a symlink to elsewhere is refused, naming the link,
    and the directory it points to stays empty."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (vault.root / "nestr").symlink_to(elsewhere)
    with pytest.raises(Exception, match="is a symlink"):
        write_run(vault, a_run())
    assert list(elsewhere.iterdir()) == []


def test_a_persons_front_matter_is_kept_byte_for_byte_when_nestr_has_nothing_new(
    vault: Vault,
) -> None:
    """A daily note's own front matter (a comment, flow style) is left exactly as written when
    nestr adds a run to it, and so is unparsable front matter of a run note."""
    first = write_run(vault, a_run())
    own = "---\n# my daily template\ntags: [daily]   # keep\n---\n"
    first.daily.write_text(own + first.daily.read_text())
    write_run(vault, a_run("fedcba9876543210", started=STARTED + 60))
    assert first.daily.read_text().startswith(own)

    broken = "---\nstatus: [unclosed\n---\n"
    first.run.write_text(broken + first.run.read_text().split("---\n", 2)[2])
    write_run(vault, a_run(status="succeeded"))
    text = first.run.read_text()
    assert text.startswith(broken)
    assert "✅ succeeded" in text


def test_a_file_in_the_way_fails_with_the_note_named(vault: Vault) -> None:
    """A file where nestr's folder should be fails the write with the note's path, not a
    traceback."""
    (vault.root / "nestr").write_text("not a folder")
    with pytest.raises(StepFailed, match=r"cannot write nestr/repos/api\.md"):
        write_run(vault, a_run())


def test_a_note_that_is_not_utf8_is_left_alone(vault: Vault) -> None:
    """A daily note in another encoding is refused, naming it, and its bytes are unchanged."""
    first = write_run(vault, a_run())
    latin1 = "café\n".encode("latin-1")
    first.daily.write_bytes(latin1)
    with pytest.raises(StepFailed, match="is not UTF-8 text"):
        write_run(vault, a_run())
    assert first.daily.read_bytes() == latin1
