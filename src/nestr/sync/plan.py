"""Plan a sync: for every selected repo and file, the action and the bytes it would write.

Reading is all this does: rules are expanded once, templates compiled once and rendered per
repo, targets read from the work tree, bases fetched from each repo's objects only when both
sides changed (one ``git cat-file --batch`` per repo), and 3-way merges run with
``git merge-file``. Applying the plan is :mod:`nestr.sync.apply`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nestr.errors import InputError, NestrError, UsageError
from nestr.fanout import fan_out
from nestr.manifest.model import Manifest, RepoSpec
from nestr.sync.files import (
    Prepared,
    Wanted,
    check_binary_template,
    finish,
    prepare,
    wanted_from_entry,
)
from nestr.sync.lockfile import LOCK_PATH, read_lock
from nestr.sync.model import FilePlan, RepoPlan, SyncPlan
from nestr.sync.objects import merge_texts, read_blobs
from nestr.sync.planner import Policy, decide, needs_base, settle
from nestr.sync.render import TemplateRenderer, template_vars, vars_hash
from nestr.sync.rules import SyncConfig, SyncRule, load_sync_config
from nestr.sync.sources import ResolvedSource, SourceFile, expand_rule, resolve_sources
from nestr.workspace.record import Workspace


@dataclass(frozen=True)
class _Context:
    manifest: Manifest
    workspace: Workspace
    config: SyncConfig
    sources: dict[str, ResolvedSource]
    files: dict[int, list[SourceFile]]  # rule index -> expanded files
    targets: dict[int, frozenset[str]]  # rule index -> names of the repos it targets
    renderer: TemplateRenderer
    raw: dict[Path, bytes]  # source files read once, for every repo
    adopt: bool
    timeout: float


async def plan_sync(
    manifest: Manifest,
    workspace: Workspace,
    *,
    groups: Iterable[str] = (),
    names: Iterable[str] = (),
    adopt: bool = False,
    jobs: int = 4,
    timeout: float = 600.0,
) -> SyncPlan:
    """The sync plan of the selected repos (all repos the rules target when none is selected).

    Bad rules raise :class:`~nestr.errors.ManifestError`; problems of one repo (a symlink
    leading out, a template failing for its variables, a missing checkout) are that repo's
    ``error`` and never stop the others.
    """
    config = load_sync_config(manifest)
    sources = await resolve_sources(config, manifest, workspace, timeout=timeout)
    files = {r.index: expand_rule(r, sources[r.source]) for r in config.rules}
    targets = {r.index: _rule_targets(r, manifest, sources) for r in config.rules}
    renderer = TemplateRenderer()
    ctx = _Context(
        manifest, workspace, config, sources, files, targets, renderer, {}, adopt, timeout
    )
    chosen = _targets(ctx, set(_selected(manifest, groups, names)))
    outcomes = await fan_out(chosen, lambda spec: _plan_repo(ctx, spec), jobs=jobs)
    repos = []
    for outcome in outcomes:
        if outcome.value is not None:
            repos.append(outcome.value)
        else:
            error = outcome.error
            if not isinstance(error, NestrError):
                raise error if error else RuntimeError("no outcome")
            repos.append(RepoPlan(outcome.item.name, workspace.repo_dir(outcome.item), error=error))
    return SyncPlan(tuple(repos), sources={k: _source_dict(v) for k, v in sources.items()})


def _selected(manifest: Manifest, groups: Iterable[str], names: Iterable[str]) -> list[str]:
    return [r.name for r in manifest.select(groups=groups, names=names)]


def _rule_targets(
    rule: SyncRule, manifest: Manifest, sources: dict[str, ResolvedSource]
) -> frozenset[str]:
    """Repos ``rule`` targets (a config repo is no target of the rules reading from it)."""
    own = sources[rule.source].repo
    return frozenset(r.name for r in rule.selector.pick(manifest) if r.name != own)


def _targets(ctx: _Context, selected: set[str]) -> list[RepoSpec]:
    """Selected repos that a rule targets or that hold a sync lock, in manifest order.

    A repo with a lock but no rule any more is planned too: its managed files are orphans,
    deleted (``delete: true``, unmodified) or released from the lock.
    """
    wanted = set().union(*ctx.targets.values()) if ctx.targets else set()
    return [
        r
        for r in ctx.manifest.repos
        if r.name in selected
        and (r.name in wanted or (ctx.workspace.repo_dir(r) / LOCK_PATH).is_file())
    ]


def _source_dict(source: ResolvedSource) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "repo" if source.repo else "dir", "revision": source.revision}
    if source.repo:
        out["repo"] = source.repo
    return out


async def _plan_repo(ctx: _Context, spec: RepoSpec) -> RepoPlan:
    directory = ctx.workspace.repo_dir(spec)
    if not (directory / ".git").exists():
        raise UsageError(
            f"{spec.name} is not checked out at {directory}", hint="run nestr assemble"
        )
    lock = read_lock(directory)
    wanted, used = _wanted(ctx, spec)
    for dest, entry in lock.files.items():
        if dest not in wanted:
            wanted[dest] = wanted_from_entry(dest, entry)
    prepared = [
        prepare(directory, w, lock.files.get(w.dest), adopt=ctx.adopt) for w in wanted.values()
    ]
    plans = await _decide_all(directory, prepared, timeout=ctx.timeout)
    return RepoPlan(
        repo=spec.name,
        directory=directory,
        files=tuple(sorted(plans, key=lambda p: p.path)),
        lock=lock,
        sources={n: _source_dict(ctx.sources[n]) for n in sorted(used)},
        vars_hash=vars_hash({**ctx.config.vars, **spec.vars}),
    )


def _wanted(ctx: _Context, spec: RepoSpec) -> tuple[dict[str, Wanted], set[str]]:
    """Every destination the rules want in ``spec``, and the sources they use."""
    wanted: dict[str, Wanted] = {}
    owner: dict[str, int] = {}
    used: set[str] = set()
    variables = template_vars(ctx.config.vars, spec)
    for rule in ctx.config.rules:
        if spec.name not in ctx.targets[rule.index]:
            continue
        used.add(rule.source)
        for sf in ctx.files[rule.index]:
            if sf.dest in wanted:
                raise InputError(
                    f"rules {owner[sf.dest]} and {rule.index} both write {sf.dest} in {spec.name}",
                    location=rule.location,
                    field=f"sync.rules[{rule.index}]",
                )
            owner[sf.dest] = rule.index
            wanted[sf.dest] = _render(ctx, sf, variables, spec.name)
    return wanted, used


def _render(ctx: _Context, sf: SourceFile, variables: dict[str, Any], repo: str) -> Wanted:
    rule = sf.rule
    if rule.template:
        content = ctx.renderer.render(sf.absolute, variables, repo=repo)
    else:
        if sf.absolute not in ctx.raw:
            ctx.raw[sf.absolute] = sf.absolute.read_bytes()
        content = ctx.raw[sf.absolute]
    wanted = Wanted(
        dest=sf.dest,
        policy=rule.policy,
        source=rule.source,
        source_path=sf.path,
        content=content,
        mode=rule.mode,
        delete=rule.delete,
        block=(rule.block or sf.path) if rule.policy is Policy.MANAGED_BLOCK else None,
    )
    check_binary_template(wanted, rule.template)
    return wanted


async def _decide_all(
    directory: Path, prepared: list[Prepared], *, timeout: float
) -> list[FilePlan]:
    wanted_bases = [p.inputs.base_id for p in prepared if needs_base(p.inputs)]
    bases = await read_blobs(directory, [b for b in wanted_bases if b], timeout=timeout)
    plans = []
    for item in prepared:
        inputs = item.inputs
        if needs_base(inputs) and inputs.base_id is not None:
            inputs = replace(inputs, base=bases.get(inputs.base_id))
        decision = decide(inputs)
        if decision.merge_needed:
            assert decision.merge_base is not None
            assert inputs.target is not None
            assert inputs.source is not None
            outcome = await merge_texts(
                decision.merge_base, inputs.target, inputs.source, timeout=timeout
            )
            decision = settle(decision, outcome)
        plans.append(finish(item, decision))
    return plans
