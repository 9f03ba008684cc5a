"""The SDK's pure parts and its weight: the handshake line, the `with:` schema subset, and what
importing `nestr.plugin` loads."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nestr.plugin import Plugin, handshake
from nestr.plugin.schema import problems

SCHEMA = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {"type": "string"},
        "times": {"type": "integer"},
        "mode": {"enum": ["a", "b"]},
        "items": {"type": "array", "items": {"type": "object", "required": ["name"]}},
    },
    "additionalProperties": False,
}
KNOWN = "items, mode, text, times"


def test_importing_the_sdk_loads_no_other_part_of_nestr_and_no_grpc() -> None:
    """A plugin that declares its steps imports only `nestr.plugin` (gRPC waits for serve())."""
    code = (
        "import sys, nestr.plugin\n"
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('nestr.')}))\n"
        "print('grpc' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["['plugin']", "False"]


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ({"text": "hi", "times": 2, "mode": "a"}, []),
        ({"text": "${{ inputs.text }}", "times": "${{ inputs.n }}"}, []),
        ({}, [((), "`text` is required")]),
        ({"text": 1}, [(("text",), "expected string, got integer")]),
        ({"text": "x", "times": True}, [(("times",), "expected integer, got boolean")]),
        ({"text": "x", "mode": "c"}, [(("mode",), "must be one of 'a', 'b', got 'c'")]),
        ({"text": "x", "extra": 1}, [(("extra",), f"unknown field `extra` (known: {KNOWN})")]),
        ({"text": "x", "items": [{"name": "a"}, {}]}, [(("items", "1"), "`name` is required")]),
    ],
)  # fmt: skip
def test_the_schema_subset_names_each_problem_by_its_path(
    value: dict[str, object], found: list[tuple[tuple[str, ...], str]]
) -> None:
    """Each kind of problem is reported at the path of its field, and expressions pass."""
    assert list(problems(SCHEMA, value)) == found


def test_the_handshake_line_round_trips_and_bad_lines_say_why() -> None:
    """A plugin's line parses back to what it announced; other lines are refused with a reason."""
    line = handshake.Handshake(1, "unix", "/tmp/p.sock").line()
    assert handshake.parse(line) == handshake.Handshake(1, "unix", "/tmp/p.sock")
    assert handshake.parse("nestr-plugin|1|tcp|127.0.0.1:5\n").target == "127.0.0.1:5"
    with pytest.raises(handshake.HandshakeError, match=r"127\.0\.0\.1"):
        handshake.parse("nestr-plugin|1|tcp|0.0.0.0:5")
    with pytest.raises(handshake.HandshakeError, match="expected"):
        handshake.parse("listening on 5000")
    with pytest.raises(handshake.HandshakeError, match="must be a number"):
        handshake.parse("nestr-plugin|one|unix|/x")


def test_a_step_type_must_belong_to_its_plugin() -> None:
    """Declaring `other.say` on plugin `echo` is refused at once (nestr would never route it)."""
    plugin = Plugin("echo")
    with pytest.raises(ValueError, match=r"must start with echo\."):
        plugin.step("other.say")


def test_a_cancel_before_the_step_function_ran_ends_the_stream_cancelled() -> None:
    """A Cancel that reaches the plugin after Execute registered its work but before the
    step function's first line ran still ends the stream with a cancelled result (the
    function never ran, so only the server can say so), instead of breaking the call."""
    import asyncio

    from nestr.plugin._proto import plugin_pb2 as pb
    from nestr.plugin.server import StepPluginServicer

    plugin = Plugin("demo")
    ran: list[str] = []

    @plugin.step("demo.wait")
    async def wait(call: object) -> None:
        ran.append("started")
        await asyncio.sleep(60)

    async def scenario() -> pb.ExecuteResponse:
        servicer = StepPluginServicer(plugin)
        stream = servicer.Execute(pb.ExecuteRequest(execution_id="x", step_type="demo.wait"), None)
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # Execute has registered its task; the task has not run yet
        found = await servicer.Cancel(pb.CancelRequest(execution_id="x"), None)
        assert found.found
        return await first

    reply = asyncio.run(scenario())
    assert reply.result.status == pb.STATUS_CANCELLED
    assert ran == []
