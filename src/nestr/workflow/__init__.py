"""Workflows: a DAG of steps, validated before it runs, executed and recorded durably.

Library entry points (import from here)::

    result = await run_workflow("release", manifest=manifest, state_dir=settings.state_dir,
                                inputs={"version": "1.2.0"}, workspace_root=ws.root)
    result = await resume_run(run_id, state_dir=settings.state_dir)

The Step protocol, its context and the registry live in ``nestr.workflow.protocols`` and
``nestr.workflow.registry``; the executor interface in ``nestr.workflow.executor`` (an
:class:`ExecutorFactory` passed as ``executor=`` replaces the one the ``executor`` setting
names); the pure scheduler every executor drives in ``nestr.workflow.schedule``.

The names below load their modules on first use (PEP 562): importing one submodule, such as
the run queries a face lists runs with, does not load the engine, the loader and YAML.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nestr.workflow.executor import (
        Executor,
        ExecutorFactory,
        ExecutorSetup,
        RunResult,
        RunSpec,
    )
    from nestr.workflow.loading import load_workflow, load_workflows
    from nestr.workflow.model import StepDef, Workflow
    from nestr.workflow.options import ExecutorOptions
    from nestr.workflow.protocols import Step, StepContext, StepFactory, StepFailed
    from nestr.workflow.registry import StepRegistry
    from nestr.workflow.runs import resume_run, run_workflow, run_workflow_sync

_WHERE = {  # exported name -> the module that defines it
    **dict.fromkeys(
        ("Executor", "ExecutorFactory", "ExecutorSetup", "RunResult", "RunSpec"), "executor"
    ),
    **dict.fromkeys(("load_workflow", "load_workflows"), "loading"),
    **dict.fromkeys(("StepDef", "Workflow"), "model"),
    "ExecutorOptions": "options",
    **dict.fromkeys(("Step", "StepContext", "StepFactory", "StepFailed"), "protocols"),
    "StepRegistry": "registry",
    **dict.fromkeys(("resume_run", "run_workflow", "run_workflow_sync"), "runs"),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # asked once
    return value


__all__ = [
    "Executor",
    "ExecutorFactory",
    "ExecutorOptions",
    "ExecutorSetup",
    "RunResult",
    "RunSpec",
    "Step",
    "StepContext",
    "StepDef",
    "StepFactory",
    "StepFailed",
    "StepRegistry",
    "Workflow",
    "load_workflow",
    "load_workflows",
    "resume_run",
    "run_workflow",
    "run_workflow_sync",
]
