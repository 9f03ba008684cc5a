"""`nestr demo` runs the whole tour end to end on local repositories."""

from __future__ import annotations

from pathlib import Path

from nestr.demo.product import build_sample_product
from nestr.manifest.loader import load_manifest
from nestr.testing import git


def test_sample_product_is_a_valid_manifest_of_real_repos(tmp_path: Path) -> None:
    """The sample product's manifest loads and every repo it names is a real git repository."""
    product = build_sample_product(tmp_path)
    manifest = load_manifest(product.manifest)
    assert [r.name for r in manifest.repos] == [
        "api",
        "billing",
        "worker",
        "web",
        "platform-config",
    ]
    for repo in manifest.repos:
        path = Path(repo.url.removeprefix("file://"))
        assert git(path, "rev-parse", "--is-inside-work-tree") == "true"
    assert "ci" in manifest.workflows
    assert manifest.sync is not None


def test_demo_tour_runs_every_chapter(nestr, tmp_path: Path) -> None:
    """The tour assembles, reports status, runs foreach and the workflow, syncs with a clean
    merge and a conflict, and keeps everything when --dir is given."""
    root = tmp_path / "demo"
    result = nestr("demo", "--dir", str(root))
    assert result.code == 0, result.err
    out = result.out
    assert "$ nestr assemble --ephemeral --ttl 2h" in out
    assert "5 repos: all clean" in out
    assert "run " in out
    assert "succeeded" in out
    assert "merge         settings.cfg" in out
    assert "conflict      settings.cfg" in out
    assert "on nestr/sync-config" in out
    assert "nestr.sync.file.conflict" in out
    assert "Demo finished" in out
    assert (root / "product" / "nestr.lock").is_file()


def test_demo_refuses_a_non_empty_directory(nestr, tmp_path: Path) -> None:
    """--dir pointing at a directory with files in it is refused, exit 2, nothing touched."""
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    result = nestr("demo", "--dir", str(tmp_path / "busy"))
    assert result.code == 2
    assert "not empty" in result.err
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"


def test_demo_without_dir_cleans_up(nestr, tmp_path: Path, monkeypatch) -> None:
    """Without --dir the demo works in a temporary directory and removes it at the end."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    result = nestr("demo")
    assert result.code == 0, result.err
    assert list(scratch.iterdir()) == []
