"""fan_out: bounded parallelism, order kept, one failure is one outcome."""

from __future__ import annotations

import asyncio

from nestr.fanout import fan_out


def test_outcomes_keep_input_order_and_isolate_failures() -> None:
    """A failing item becomes an outcome with its error; the others still finish."""

    async def work(i: int) -> int:
        await asyncio.sleep(0.001 * (5 - i))
        if i == 2:
            raise ValueError("bad item")
        return i * 10

    outcomes = asyncio.run(fan_out(list(range(5)), work, jobs=3))
    assert [o.item for o in outcomes] == [0, 1, 2, 3, 4]
    assert [o.value for o in outcomes if o.ok] == [0, 10, 30, 40]
    assert isinstance(outcomes[2].error, ValueError)


def test_never_more_than_jobs_at_once() -> None:
    """The number of items in flight never exceeds jobs."""
    running = 0
    peak = 0

    async def work(i: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running -= 1

    asyncio.run(fan_out(list(range(20)), work, jobs=4))
    assert peak == 4


def test_jobs_one_is_sequential() -> None:
    """jobs=1 runs items strictly one after another."""
    log: list[str] = []

    async def work(i: int) -> None:
        log.append(f"start {i}")
        await asyncio.sleep(0)
        log.append(f"end {i}")

    asyncio.run(fan_out([1, 2], work, jobs=1))
    assert log == ["start 1", "end 1", "start 2", "end 2"]
