"""Shared files across repos, with conflict detection that never loses a local edit.

Public API::

    plan = await plan_sync(manifest, workspace, groups=..., names=..., adopt=False)
    result = await apply_sync(manifest, workspace, options=ApplyOptions(commit=True), bus=bus)
    statuses = sync_status(manifest, workspace)
    config = load_sync_config(manifest)     # validate the `sync:` section only

The pure decision for one file is :func:`nestr.sync.planner.decide`.
"""

from nestr.sync.apply import ApplyOptions, ConflictMode, apply_plan, apply_sync
from nestr.sync.model import FilePlan, RepoPlan, SyncPlan
from nestr.sync.plan import plan_sync
from nestr.sync.planner import Action, Policy
from nestr.sync.results import SyncRepoResult, SyncResult
from nestr.sync.rules import SyncConfig, load_sync_config
from nestr.sync.status import Drift, RepoStatus, sync_status

__all__ = [
    "Action",
    "ApplyOptions",
    "ConflictMode",
    "Drift",
    "FilePlan",
    "Policy",
    "RepoPlan",
    "RepoStatus",
    "SyncConfig",
    "SyncPlan",
    "SyncRepoResult",
    "SyncResult",
    "apply_plan",
    "apply_sync",
    "load_sync_config",
    "plan_sync",
    "sync_status",
]
