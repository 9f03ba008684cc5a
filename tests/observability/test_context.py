"""The correlation context: one id per action, inherited from a parent nestr, handed to children."""

from __future__ import annotations

from typing import Any

import pytest

from nestr.observability.context import (
    ENV_VAR,
    child_env,
    correlation,
    current_correlation_id,
)


def test_an_action_gets_one_id_that_nested_use_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an id a new one is made; inside it, a nested action keeps the same id."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert current_correlation_id() is None
    with correlation() as outer:
        assert len(outer) == 32
        assert current_correlation_id() == outer
        with correlation() as inner:
            assert inner == outer
        assert child_env() == {ENV_VAR: outer}
    assert current_correlation_id() is None
    assert child_env() == {}


def test_a_parent_nestr_id_is_joined_and_a_bad_one_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A usable $NESTR_CORRELATION_ID is taken over; one with shell or newline characters is not."""
    monkeypatch.setenv(ENV_VAR, "parent-42")
    with correlation() as cid:
        assert cid == "parent-42"
    monkeypatch.setenv(ENV_VAR, "x;rm -rf /\n")
    with correlation() as cid:
        assert cid != "x;rm -rf /\n"
        assert len(cid) == 32


def test_an_explicit_id_wins() -> None:
    """The id a face passes (an RPC's) is the one used."""
    with correlation("rpc-7") as cid:
        assert cid == "rpc-7" == current_correlation_id()


def test_a_stream_closed_by_another_task_ends_its_correlation_quietly() -> None:
    """An async generator that yields inside ``correlation`` (a gRPC stream) may be closed by
    another task in another context; ending the block there raises nothing and leaves the
    closing context's id alone."""
    import asyncio
    import contextvars

    async def stream() -> Any:
        with correlation("stream-1"):
            yield 1
            yield 2

    async def main() -> str | None:
        events = stream()
        assert await anext(events) == 1
        elsewhere = contextvars.copy_context()
        closing = asyncio.get_running_loop().create_task(events.aclose(), context=elsewhere)
        await closing
        return elsewhere.run(current_correlation_id)

    assert asyncio.run(main()) == "stream-1"
