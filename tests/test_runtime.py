"""The collector settings of nestr's own processes (each case in a fresh interpreter: the test
process keeps its own)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from nestr.runtime import YOUNG_THRESHOLD


def _python(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; what it prints last, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_the_nestr_command_collects_young_objects_less_often() -> None:
    """Started as a process (``main()`` with no arguments), nestr raises the youngest
    generation's threshold and keeps the older ones."""
    found = _python(
        """
        import gc, json, sys
        before = gc.get_threshold()
        sys.argv = ["nestr", "version"]
        from nestr.cli.main import main
        main()
        print(json.dumps({"before": before, "after": gc.get_threshold()}))
        """
    )
    before, after = found["before"], found["after"]
    assert isinstance(before, list)
    assert isinstance(after, list)
    assert after == [YOUNG_THRESHOLD, *before[1:]]


def test_nestr_called_from_python_leaves_the_callers_collector_alone() -> None:
    found = _python(
        """
        import gc, json
        from nestr.cli.main import main
        before = gc.get_threshold()
        main(["version"])
        print(json.dumps({"same": gc.get_threshold() == before}))
        """
    )
    assert found["same"] is True


def test_tune_keeps_thresholds_someone_else_chose_and_a_disabled_collector() -> None:
    found = _python(
        """
        import gc, json
        from nestr import runtime
        gc.set_threshold(5000, 20, 20)
        runtime.tune()
        chosen = gc.get_threshold()
        gc.set_threshold(700, 10, 10)
        gc.disable()
        runtime.tune()
        print(json.dumps({"chosen": chosen, "disabled": gc.get_threshold()}))
        """
    )
    assert found == {"chosen": [5000, 20, 20], "disabled": [700, 10, 10]}


def test_settle_freezes_what_is_alive_and_later_cycles_are_still_collected() -> None:
    """After :func:`settle` the objects alive then are out of the collector's sight, and
    garbage made afterwards (a reference cycle) is still found."""
    found = _python(
        """
        import gc, json, weakref
        from nestr import runtime
        class Node:
            pass
        kept = [Node() for _ in range(1000)]
        runtime.settle()
        frozen = gc.get_freeze_count()
        tracked = len(gc.get_objects())
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        print(json.dumps({"frozen": frozen, "tracked": tracked, "collected": gone() is None}))
        """
    )
    frozen, tracked = found["frozen"], found["tracked"]
    assert isinstance(frozen, int)
    assert isinstance(tracked, int)
    assert frozen >= 1000  # the kept nodes, and the interpreter's own objects
    assert tracked < 100  # hardly anything is left for a collection to walk
    assert found["collected"] is True
