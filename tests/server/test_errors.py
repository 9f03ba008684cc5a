"""The one table from nestr's errors to gRPC status codes (``nestr.server.errors``)."""

from __future__ import annotations

import grpc
import pytest

from nestr.errors import (
    ConflictsLeft,
    GitError,
    Interrupted,
    ManifestError,
    NestrError,
    NotFound,
    UsageError,
    WorkFailed,
)
from nestr.server.errors import Refused, status_code
from nestr.store.runs import RunBusy


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("no run matches 'x'"), grpc.StatusCode.NOT_FOUND),
        (RunBusy("run x is running"), grpc.StatusCode.FAILED_PRECONDITION),
        (ConflictsLeft("2 conflicts left"), grpc.StatusCode.FAILED_PRECONDITION),
        (Refused("kept /ws: it holds local work"), grpc.StatusCode.FAILED_PRECONDITION),
        (ManifestError("bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (UsageError("bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (Interrupted("stopped"), grpc.StatusCode.CANCELLED),
        (WorkFailed("step failed"), grpc.StatusCode.INTERNAL),
        (GitError(["git", "fetch"], 128, "fatal"), grpc.StatusCode.INTERNAL),
        (NestrError("other"), grpc.StatusCode.INTERNAL),
    ],
)
def test_each_kind_of_error_maps_to_its_status_code(
    error: NestrError, code: grpc.StatusCode
) -> None:
    """Not-found errors are NOT_FOUND although they are usage errors, busy runs and conflicts
    FAILED_PRECONDITION, other bad input INVALID_ARGUMENT, and failed work INTERNAL."""
    assert status_code(error) == code
