"""What keeps a step's result small, without a cluster: outputs split between history and
the worker's store, errors cut with a marker, references recorded as such."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from nestr.temporal.payloads import (
    ERROR_LIMIT,
    StoredOutputUnreadable,
    WithStored,
    bounded_error,
    recorded_outputs,
    split_outputs,
)
from nestr.temporal.shapes import LogPlace, StoredOutput

HOST = socket.gethostname()


def test_outputs_past_the_bound_go_to_files_the_smallest_stay_inline(tmp_path: Path) -> None:
    """The smallest outputs stay inline while their total fits the bound; the others are
    written to files whose references give their size, and read back whole."""
    outputs = {"a": "1", "big": "x" * 100, "b": "22", "odd name/..": "y" * 80}
    inline, stored = split_outputs(outputs, 80, tmp_path / "out", HOST)
    assert inline == {"a": "1", "b": "22"}
    assert set(stored) == {"big", "odd name/.."}
    assert stored["big"] == StoredOutput(HOST, str(tmp_path / "out" / "big"), 100)
    assert Path(stored["odd name/.."].path).parent == tmp_path / "out"  # never a path of it
    view = WithStored("make", inline, stored)
    assert dict(view) == outputs


def test_everything_fits_under_a_large_bound(tmp_path: Path) -> None:
    """Outputs within the bound all travel inline and nothing is written."""
    inline, stored = split_outputs({"v": "1"}, 65536, tmp_path / "out", HOST)
    assert (inline, stored) == ({"v": "1"}, {})
    assert not (tmp_path / "out").exists()


def test_an_unreadable_stored_output_names_the_output_host_and_setting(tmp_path: Path) -> None:
    """Reading a stored output whose file is not there raises an error naming the output,
    its step, the host and file holding it and the setting to raise; the submitter records
    the reference as such instead."""
    ref = StoredOutput("elsewhere", str(tmp_path / "gone"), 123)
    with pytest.raises(StoredOutputUnreadable) as raised:
        WithStored("make", {}, {"big": ref})["big"]
    message = raised.value.message
    assert "output 'big' of step make (123 bytes) is kept on host elsewhere" in message
    assert "temporal.inline_outputs" in message
    assert recorded_outputs({"v": "1"}, {"big": ref}) == {
        "v": "1",
        "big": f"<stored on host elsewhere: {tmp_path / 'gone'}, 123 bytes>",
    }


def test_a_long_error_is_cut_with_a_marker_and_a_short_one_is_not() -> None:
    """An error past the limit is cut there and says where the whole one is; a short one
    travels as it is."""
    place = LogPlace("h1", "/var/nestr", 2)
    assert bounded_error("short", place) == "short"
    cut = bounded_error("e" * (ERROR_LIMIT + 10), place)
    assert cut.startswith("e" * ERROR_LIMIT + "\n[… 10 more characters cut")
    assert "worker on host h1 (/var/nestr)" in cut
