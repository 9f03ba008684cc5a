"""``workspace.assemble``: create or update a workspace from the run's manifest.

``with``: ``workspace`` (directory, default the run's root), ``groups``, ``names``, ``locked``,
``offline``. Outputs: ``workspace``, ``workspace_id``, ``ok``. A repo that fails fails the step.
The user's settings apply as in ``nestr assemble`` (``cache_dir``, ``jobs``, ``git.timeout``,
``git.fetch_freshness``); the assembly's events go to the run's log, stamped with the step.
"""

from __future__ import annotations

from pathlib import Path

from nestr.workflow.protocols import Outputs, StepContext, StepFailed


class AssembleStep:
    """Assemble the workspace through :func:`nestr.workspace.assemble.assemble`."""

    async def run(self, ctx: StepContext) -> Outputs | None:
        try:  # imported here: the assembly pulls in the mirror cache and its git plumbing
            from nestr.manifest.loader import load_manifest
            from nestr.plugins.builtin.stepbus import step_bus
            from nestr.workspace.assemble import AssembleOptions, assemble
        except ImportError as exc:  # pragma: no cover - only in a partial installation
            raise StepFailed(f"workspace.assemble is not available here: {exc}") from None
        if ctx.manifest_path is None:
            raise StepFailed("workspace.assemble needs the run to have a manifest")
        manifest = load_manifest(ctx.manifest_path)
        target = Path(str(ctx.with_.get("workspace", ctx.root)))
        options = AssembleOptions.from_settings(
            ctx.settings,
            state_dir=ctx.state_dir,
            groups=tuple(ctx.with_.get("groups", ())),
            names=tuple(ctx.with_.get("names", ())),
            locked=bool(ctx.with_.get("locked", False)),
            offline=bool(ctx.with_.get("offline", False)),
        )
        result = await assemble(manifest, ctx.root / target, options, bus=step_bus(ctx))
        for repo in result.repos:
            ctx.log.write("stdout", f"{repo.name}: {repo.status}\n")
        if not result.ok:
            raise StepFailed(f"assembly of {result.workspace} failed for some repos")
        return {"workspace": result.workspace, "workspace_id": result.workspace_id, "ok": "true"}
