"""The input cache: entries match only while every input is exactly as it was."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from nestr import inputcache

KIND = "test"


def aged(path: Path, text: str) -> Path:
    """Write ``text`` with a modification time in the past (times must not matter)."""
    path.write_text(text, encoding="utf-8")
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def entry_for(key: str, extra: object = None) -> dict[str, object] | None:
    entry = inputcache.load(KIND, key)
    return entry if entry is not None and inputcache.matches(entry, extra) else None


def test_entry_round_trips_while_inputs_are_unchanged(tmp_path: Path) -> None:
    """A stored value comes back for the same key while its file and extra are unchanged."""
    src = aged(tmp_path / "a.yaml", "a: 1\n")
    assert inputcache.store(KIND, "k", [src], {"a": 1}, extra="x")
    entry = entry_for("k", "x")
    assert entry is not None
    assert entry["value"] == {"a": 1}


def test_other_key_or_extra_misses(tmp_path: Path) -> None:
    """A different key finds nothing and a different extra does not match."""
    src = aged(tmp_path / "a.yaml", "a: 1\n")
    inputcache.store(KIND, "k", [src], 1, extra={"env": "a"})
    assert inputcache.load(KIND, "other") is None
    assert entry_for("k", {"env": "b"}) is None
    assert entry_for("k", {"env": "a"}) is not None


def test_editing_a_file_misses(tmp_path: Path) -> None:
    """Changing a file's content (and size) makes the entry stale."""
    src = aged(tmp_path / "a.yaml", "a: 1\n")
    inputcache.store(KIND, "k", [src], 1)
    aged(src, "a: 10\n")
    assert entry_for("k") is None


def test_same_size_rewrite_with_old_mtime_misses(tmp_path: Path) -> None:
    """A same-size rewrite whose mtime is set back to the old value still misses (ctime)."""
    src = aged(tmp_path / "a.yaml", "a: 1\n")
    before = src.stat()
    inputcache.store(KIND, "k", [src], 1)
    src.write_text("a: 2\n", encoding="utf-8")
    os.utime(src, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert src.stat().st_size == before.st_size
    assert entry_for("k") is None


def test_a_missing_file_that_appears_misses(tmp_path: Path) -> None:
    """A file that did not exist when the entry was written invalidates it by appearing."""
    missing = tmp_path / "later.yaml"
    assert inputcache.store(KIND, "k", [missing], 1)
    assert entry_for("k") is not None
    aged(missing, "a: 1\n")
    assert entry_for("k") is None


def test_rewrites_in_the_same_instant_are_seen(tmp_path: Path) -> None:
    """A file just written is cached at once, and a same-size rewrite right after (same time
    stamp tick) is still seen: the fingerprint is the content, not the times."""
    src = tmp_path / "a.yaml"
    src.write_text("a: 1\n", encoding="utf-8")
    assert inputcache.store(KIND, "k", [src], 1)
    assert entry_for("k") is not None
    src.write_text("a: 2\n", encoding="utf-8")
    assert entry_for("k") is None


def test_touching_a_file_keeps_the_entry(tmp_path: Path) -> None:
    """New time stamps with the same content (a checkout, `touch`) still match."""
    src = aged(tmp_path / "a.yaml", "a: 1\n")
    inputcache.store(KIND, "k", [src], 1)
    os.utime(src)
    assert entry_for("k") is not None


def test_digest_is_of_the_text_a_loader_reads(tmp_path: Path) -> None:
    """CRLF and LF files with the same lines have the digest of their read_text() text."""
    crlf, lf = tmp_path / "crlf.yaml", tmp_path / "lf.yaml"
    crlf.write_bytes(b"a: 1\r\nb: 2\r\n")
    lf.write_bytes(b"a: 1\nb: 2\n")
    expected = inputcache.text_digest(crlf.read_text(encoding="utf-8"))
    assert inputcache.file_stamp(crlf)[1] == inputcache.file_stamp(lf)[1] == expected


def test_change_after_the_fingerprint_was_taken_is_not_stored(tmp_path: Path) -> None:
    """An input edited between taking the fingerprint and storing leaves no entry behind."""
    src = aged(tmp_path / "a.yaml", "a: 1\n")
    taken = inputcache.fingerprint([src])
    aged(src, "a: 22\n")
    assert not inputcache.store(KIND, "k", [src], 1, taken=taken)
    assert inputcache.load(KIND, "k") is None
    assert inputcache.store(KIND, "k", [src], 1, taken=inputcache.fingerprint([src]))


def test_disabled_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NESTR_NO_INPUT_CACHE=1 neither writes nor reads entries; 0 keeps the cache on."""
    src = aged(tmp_path / "a.yaml", "a: 1\n")
    assert inputcache.store(KIND, "k", [src], 1)
    monkeypatch.setenv(inputcache.DISABLE_ENV, "1")
    assert inputcache.load(KIND, "k") is None
    assert not inputcache.store(KIND, "k2", [src], 1)
    monkeypatch.setenv(inputcache.DISABLE_ENV, "0")
    assert inputcache.load(KIND, "k") is not None
    assert inputcache.load(KIND, "k2") is None


def test_corrupt_entries_are_misses(tmp_path: Path) -> None:
    """Garbage, a non-object or a damaged fingerprint in an entry file is a miss, not an error."""
    src = aged(tmp_path / "a.yaml", "a: 1\n")
    inputcache.store(KIND, "k", [src], 1)
    (path,) = inputcache.cache_root().glob(f"{KIND}-*.json")
    for garbage in (b"\x00{not json", b"[1, 2]", b'{"key": "k", "fingerprint": 3, "value": 1}'):
        path.write_bytes(garbage)
        assert entry_for("k") is None
    assert inputcache.store(KIND, "k", [src], 1)
    assert entry_for("k") is not None


def test_values_json_cannot_hold_are_not_stored(tmp_path: Path) -> None:
    """A value that is not JSON (a date, a set) is skipped rather than written half-way."""
    assert not inputcache.store(KIND, "k", [], {1, 2})
    assert inputcache.load(KIND, "k") is None
    assert not list(inputcache.cache_root().glob("*"))


def test_entries_live_under_xdg_cache_home(tmp_path: Path) -> None:
    """Entries are written under $XDG_CACHE_HOME/nestr/inputs, with no temporary file left."""
    assert inputcache.store(KIND, "k", [], 1)
    root = Path(os.environ["XDG_CACHE_HOME"]) / "nestr" / "inputs"
    assert inputcache.cache_root() == root
    assert [p.name.startswith(f"{KIND}-") for p in root.iterdir()] == [True]


def test_relative_cache_dir_disables_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative XDG_CACHE_HOME (which the XDG spec says to ignore) never writes into the cwd."""
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert not inputcache.enabled()
    assert not inputcache.store(KIND, "k", [], 1)
    assert not Path("relative").exists()


def test_lookup_compares_with_a_fingerprint_the_caller_took(tmp_path: Path) -> None:
    """lookup(taken=...) hits only when that fingerprint equals the stored one, without
    reading the files again; without it, the files are read and compared."""
    src = aged(tmp_path / "a.yaml", "a: 1\n")
    taken = inputcache.fingerprint([src], "x")
    assert inputcache.store(KIND, "k", [src], {"v": 1}, extra="x", taken=taken)
    assert inputcache.lookup(KIND, "k", taken=taken) == {"v": 1}
    assert inputcache.lookup(KIND, "k", "x") == {"v": 1}
    src.write_text("a: 2\n", encoding="utf-8")
    assert inputcache.lookup(KIND, "k", taken=inputcache.fingerprint([src], "x")) is None
    assert inputcache.lookup(KIND, "k", "x") is None
    assert inputcache.lookup(KIND, "other", "x") is None
