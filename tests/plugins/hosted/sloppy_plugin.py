"""A plugin that gets the protocol wrong on purpose: it answers calls without the secret, serves
no health service and ignores SIGTERM (the conformance check must say so)."""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
from pathlib import Path

import grpc

from nestr.plugin import Plugin, StepCall
from nestr.plugin._proto import plugin_pb2_grpc as pb_grpc
from nestr.plugin.server import StepPluginServicer

plugin = Plugin("sloppy")


@plugin.step("sloppy.say")
def say(call: StepCall) -> dict[str, str]:
    """Say hello."""
    return {"said": "hello"}


async def main() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server = grpc.aio.server()
    pb_grpc.add_StepPluginServicer_to_server(StepPluginServicer(plugin), server)
    path = Path(tempfile.mkdtemp()) / "plugin.sock"
    server.add_insecure_port(f"unix:{path}")
    await server.start()
    sys.stdout.write(f"nestr-plugin|1|unix|{path}\n")
    sys.stdout.flush()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main())
