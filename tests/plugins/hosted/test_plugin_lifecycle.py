"""The plugin process's life: the handshake's version check, the launch secret, and no plugin
left behind when nestr is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from nestr.plugin._proto import plugin_pb2 as pb
from nestr.plugin._proto import plugin_pb2_grpc as pb_grpc
from nestr.plugins.host import PluginHost
from nestr.plugins.launch import Launch, PluginError, PluginProcess

from .conftest import HERE, install

GUARD = 60.0  # seconds a test waits for a process to do what it must before failing


def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll ``condition`` until true; fail after GUARD seconds (a guard, not a timing claim)."""
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_plugin_speaking_another_version_is_refused(tmp_path: Path) -> None:
    """A handshake naming protocol version 99 is refused with an error naming both versions."""
    script = tmp_path / "future.py"
    script.write_text(
        "import sys, time\nprint('nestr-plugin|99|unix|/tmp/nowhere.sock', flush=True)\n"
        "time.sleep(60)\n",
        encoding="utf-8",
    )
    launch = Launch("future", (sys.executable, str(script)), "test")
    with pytest.raises(PluginError, match="speaks plugin protocol version 99; this nestr speaks 1"):
        PluginProcess(launch, cwd=tmp_path)


@pytest.mark.usefixtures("marks")
def test_a_call_without_the_launch_secret_is_refused(tmp_path: Path) -> None:
    """The SDK refuses a call with a wrong secret (UNAUTHENTICATED) and answers the right one."""
    exe = install(tmp_path / "bin", "nestr-plugin-echo", HERE / "echo_plugin.py")
    running = PluginProcess(Launch("echo", (str(exe),), "test"), cwd=tmp_path)
    try:
        stub = pb_grpc.StepPluginStub(running.blocking_channel())  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.RpcError) as refused:
            stub.Describe(pb.DescribeRequest(), metadata=(("x-nestr-plugin-secret", "guess"),))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as missing:
            stub.Describe(pb.DescribeRequest())
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert stub.Describe(pb.DescribeRequest(), metadata=running.metadata).name == "echo"
    finally:
        running.stop()


@pytest.mark.usefixtures("marks")
def test_closing_the_host_stops_the_plugin(tmp_path: Path) -> None:
    """The host starts a plugin on first use and stops its process when closed."""
    exe = install(tmp_path / "bin", "nestr-plugin-echo", HERE / "echo_plugin.py")
    host = PluginHost({"echo": Launch("echo", (str(exe),), "test")}, cwd=tmp_path)
    assert host.starts == 0
    assert host.offers("echo.say")
    pid = host.process("echo").process.pid
    assert host.starts == 1
    host.close()
    assert not alive(pid)


def test_sigkill_of_nestr_leaves_no_plugin_process(
    tmp_path: Path,
    workflows,
    echo: Path,
    marks: Path,  # type: ignore[no-untyped-def]
) -> None:
    """A `nestr run` killed by SIGKILL mid-step leaves no plugin process: the guardian ends its
    group."""
    workflows("""
        waits:
          steps:
            - {id: w, uses: echo.wait}
    """)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    nestr = subprocess.Popen(
        [sys.executable, "-m", "nestr", "run", "waits"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for((marks / "waiting").exists, "the plugin's step to start")
        plugin_pid = int((marks / "waiting").read_text(encoding="utf-8"))
        assert alive(plugin_pid)
        nestr.send_signal(signal.SIGKILL)
        nestr.wait()
        wait_for(lambda: not alive(plugin_pid), "the plugin to end after nestr was killed")
    finally:
        if nestr.poll() is None:
            nestr.kill()
            nestr.wait()


def test_a_plugin_dying_before_its_handshake_shows_what_it_said(tmp_path: Path) -> None:
    """A plugin that exits before the handshake is an error with its exit code and stderr."""
    script = tmp_path / "broken.py"
    script.write_text(
        "import sys\nsys.stderr.write('boom: no module named x\\n')\nsys.exit(3)\n",
        encoding="utf-8",
    )
    launch = Launch("broken", (sys.executable, str(script)), "test")
    with pytest.raises(PluginError) as failed:
        PluginProcess(launch, cwd=tmp_path)
    assert "printed no handshake line before it ended (exited 3)" in failed.value.message
    assert "boom: no module named x" in failed.value.message


def test_a_missing_command_names_where_it_was_found(tmp_path: Path) -> None:
    """A command that does not exist is an error naming it and where nestr found the plugin."""
    launch = Launch("ghost", (str(tmp_path / "nowhere"),), "the plugins: setting")
    with pytest.raises(PluginError) as failed:
        PluginProcess(launch, cwd=tmp_path)
    assert "cannot start" in failed.value.message
    assert failed.value.hint is not None
    assert "the plugins: setting" in failed.value.hint
