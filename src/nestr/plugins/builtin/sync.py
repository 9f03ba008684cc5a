"""``sync.apply``: apply the manifest's sync rules to the workspace from a workflow.

``with``: ``workspace`` (directory, default the run's root), ``groups``, ``names``, ``commit``,
``branch``, ``message``, ``push``, ``conflicts`` (``skip`` | ``markers``), ``adopt``,
``allow_conflicts`` (default false: conflicts left fail the step). Inside a ``foreach`` the step
syncs only its repo. Outputs: ``written`` (files written), ``conflicts``, ``commits`` (repos
committed). A repo that fails fails the step. It runs with the user's ``jobs`` and
``git.timeout``, and its events go to the run's log, stamped with the step.
"""

from __future__ import annotations

from pathlib import Path

from nestr.workflow.protocols import Outputs, StepContext, StepFailed


class SyncApplyStep:
    """Plan and apply the sync through :func:`nestr.sync.apply_sync`."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        from nestr.manifest.loader import load_manifest
        from nestr.plugins.builtin.stepbus import step_bus
        from nestr.sync import ApplyOptions, ConflictMode, apply_sync
        from nestr.sync.apply import DEFAULT_MESSAGE
        from nestr.workspace.record import open_workspace

        if ctx.manifest_path is None:
            raise StepFailed("sync.apply needs the run to have a manifest")
        with_ = ctx.with_
        workspace = open_workspace(ctx.root / Path(str(with_.get("workspace", ctx.root))))
        names = [ctx.repo.name] if ctx.repo is not None else list(with_.get("names", ()))
        options = ApplyOptions(
            conflicts=ConflictMode(str(with_.get("conflicts", "skip"))),
            commit=bool(with_.get("commit", False)),
            branch=with_.get("branch"),
            message=str(with_.get("message", DEFAULT_MESSAGE)),
            push=bool(with_.get("push", False)),
        )
        settings = ctx.settings
        result = await apply_sync(
            load_manifest(ctx.manifest_path),
            workspace,
            groups=tuple(with_.get("groups", ())),
            names=names,
            adopt=bool(with_.get("adopt", False)),
            options=options,
            jobs=settings.jobs,
            timeout=settings.git.timeout,
            bus=step_bus(ctx),
        )
        for repo in result.repos:
            status = f"error: {repo.error}" if repo.error else f"{len(repo.written)} written"
            ctx.log.write("stdout", f"{repo.plan.repo}: {status}, {repo.conflicts} conflicts\n")
        failed = [r.plan.repo for r in result.repos if r.error is not None]
        if failed:
            raise StepFailed(f"sync.apply failed in {', '.join(failed)}")
        if result.conflicts and not with_.get("allow_conflicts", False):
            raise StepFailed(f"sync.apply left {result.conflicts} conflict(s)", returncode=3)
        return {
            "written": str(sum(len(r.written) for r in result.repos)),
            "conflicts": str(result.conflicts),
            "commits": str(sum(1 for r in result.repos if r.commit)),
        }
