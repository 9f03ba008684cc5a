"""Plugin steps on Temporal: a step served by an out-of-process plugin runs on a real
``nestr worker``, through the plugins of the worker's own ``plugins:`` setting."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from tests.temporal.conftest import Cluster
from tests.workflow.conftest import Project, statuses

from nestr.plugins.host import PluginHost
from nestr.store.eventlog import open_event_log
from nestr.workflow.registry import StepRegistry

ECHO = Path(__file__).resolve().parents[1] / "plugins" / "hosted" / "echo_plugin.py"
PLUGINS = {"echo": [sys.executable, str(ECHO)]}


def _gone(pid: int, timeout: float = 20) -> bool:
    """Whether process ``pid`` is gone within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_plugin_step_runs_on_the_worker_and_its_plugin_stops_with_it(
    cluster: Cluster, project: Project
) -> None:
    """A workflow whose first step is served by the echo plugin process (configured only in
    the worker's ``plugins:`` setting there) runs on Temporal, the step after it reads its
    output, the plugin's start and stop are in the worker's log, and stopping the worker stops
    the plugin process."""
    state = cluster.base / "worker-plugins"
    state.mkdir(parents=True)
    config = {"plugins": {"echo": {"command": PLUGINS["echo"]}}}
    (state / "nestr.config.yaml").write_text(json.dumps(config), encoding="utf-8")
    cluster.workers.pop(0).stop()  # the fixture's worker knows no plugin: only ours serves
    worker = cluster.worker(name="plugins")
    project.write(
        """
        wf:
          steps:
            - {id: greet, uses: echo.say, with: {text: hello}}
            - id: heard
              needs: [greet]
              shell: true
              run: echo "said=${{ steps.greet.outputs.said }}" >> "$NESTR_OUTPUT"
        """
    )
    host = PluginHost(configured=PLUGINS)  # the submitter checks the step's `with:` too
    try:
        registry = StepRegistry(providers=[host])
        settings = cluster.settings(project.state_dir)
        result = project.run("wf", settings=settings, registry=registry)
    finally:
        host.close()
    assert statuses(result) == {"greet": "succeeded", "heard": "succeeded"}, result.to_dict()
    greet, heard = result.steps
    assert heard.outputs == {"said": "hello"}
    served_by = int(greet.outputs["pid"])
    assert Path(greet.outputs["state_dir"]).resolve() == state.resolve()  # on the worker
    worker.stop()
    assert _gone(served_by)
    log = open_event_log(state)
    try:
        kinds = [e.type for e in log.read(type_prefix="nestr.plugin.")]
    finally:
        log.close()
    assert kinds[0] == "nestr.plugin.started"
    assert kinds[-1] == "nestr.plugin.exited"
