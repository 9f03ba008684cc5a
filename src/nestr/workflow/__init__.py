"""Workflows: a DAG of steps, validated before it runs, executed and recorded durably.

Library entry points (import from here)::

    result = await run_workflow("release", manifest=manifest, state_dir=settings.state_dir,
                                inputs={"version": "1.2.0"}, workspace_root=ws.root)
    result = await resume_run(run_id, state_dir=settings.state_dir)

The Step protocol, its context and the registry live in ``nestr.workflow.protocols`` and
``nestr.workflow.registry``; the executor interface in ``nestr.workflow.executor`` (an
:class:`ExecutorFactory` passed as ``executor=`` replaces the one the ``executor`` setting
names); the pure scheduler every executor drives in ``nestr.workflow.schedule``.
"""

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
