"""Every event type nestr emits, with the typed shape of its ``data``: the events vocabulary.

Producers publish through an :class:`EventType` (``bus.emit(REPO_FETCHED, RepoFetched(...))``),
so mypy checks each event's data against its declared shape; renderers compare
``event.type`` with a type's ``name`` and read the data through :meth:`EventType.data_of`.
:data:`CATALOG` lists every type; ``docs/events.md`` is generated from it (:func:`markdown_table`)
and a test keeps the two equal. Durations are always ``seconds`` (a float).

Data shapes are ``TypedDict``s: a producer builds a plain dict (no object per event, nothing
to convert when it is stored), yet mypy knows every key. Keys are only ever added, never
renamed: watchers outside this process read them.
"""

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NotRequired, TypedDict, TypeVar, cast

if TYPE_CHECKING:
    from nestr.events.envelope import Event

D = TypeVar("D", bound=Mapping[str, Any])


@dataclass(frozen=True, slots=True)
class EventType(Generic[D]):
    """One event type: its dotted ``name``, the shape of its ``data``, what it means."""

    name: str
    data: type[D]
    description: str

    def event(self, data: D, **fields: Any) -> "Event":
        """An event of this type, unpublished (for a store that records it with the state
        change it reports), carrying the correlation id of the action that makes it and the
        ``traceparent`` of the current span."""
        from nestr.events.envelope import Event
        from nestr.observability.context import current_correlation_id
        from nestr.observability.tracing import traceparent

        fields.setdefault("correlation_id", current_correlation_id())
        fields.setdefault("traceparent", traceparent())
        return Event(self.name, cast("dict[str, Any]", data), **fields)

    def data_of(self, event: "Event") -> D:
        """``event.data`` typed as this type's data (the caller checked ``event.type``)."""
        return cast(D, event.data)


# --- workspace: assembly -------------------------------------------------------------------


class RepoStarted(TypedDict):
    path: str
    revision: str
    url: str


class RepoFetched(TypedDict):
    url: str
    mirror: str  # the mirror's directory in the cache
    fetched: bool  # false when the mirror was fresh enough and not fetched
    seconds: float


class RepoMoveFinished(TypedDict):
    message: str


class RepoOutcome(TypedDict):
    """A repo's result, as in ``nestr assemble --json`` (docs/workspaces.md)."""

    name: str
    path: str
    status: str  # cloned, updated, unchanged, refused, conflict, failed
    ok: bool
    revision: str
    commit: str | None
    previous: str | None
    message: str | None
    hint: str | None
    stash: str | None
    fetched: bool
    seconds: float


class AssemblyFinished(TypedDict):
    workspace: str
    ok: bool
    counts: dict[str, int]  # repos per status
    seconds: float


class AssemblyDiscarded(TypedDict):
    workspace: str
    reason: str


class CloneFilterIgnored(TypedDict):
    message: str
    filter: str
    repos: list[str]


class StatusRepo(TypedDict):
    """A repo's status, as in ``nestr status --json`` (docs/status-foreach.md)."""

    name: str
    path: str
    revision: str
    state: str
    error: str | None
    branch: str | None
    detached: bool
    commit: str | None
    upstream: str | None
    ahead: int | None
    behind: int | None
    changes: dict[str, int] | None
    dirty: bool
    lock: dict[str, str | None] | None  # commit and state (match, drift, unlocked) against the lock


class WorkspaceRemoved(TypedDict):
    workspace: str  # its root
    id: str
    repos: list[str]  # the paths of its repos


class WorkspaceGcFinished(TypedDict):
    removed: int  # expired workspaces removed
    kept: int  # expired workspaces kept because they hold work


class CacheGcFinished(TypedDict):
    removed: int  # mirrors removed
    bytes: int  # the size they had on disk


# --- workspace: lock and foreach -----------------------------------------------------------


class LockResolved(TypedDict):
    revision: str
    commit: str
    kind: str  # branch, tag or commit


class LockFinished(TypedDict):
    ok: bool
    written: bool


class ForeachStarted(TypedDict):
    path: str
    dir: str
    argv: list[str]


class ForeachOutput(TypedDict):
    line: str


class ForeachFinished(TypedDict):
    name: str
    path: str
    returncode: int | None  # None when the command did not run
    error: str | None
    skipped: bool
    seconds: float


# --- sync ----------------------------------------------------------------------------------


class SyncFile(TypedDict):
    path: str
    policy: str
    detail: str
    saved_blob: NotRequired[str]  # the local edit an overwrite discarded, stored as a blob


class SyncRepoFinished(TypedDict):
    counts: dict[str, int]  # files per action
    written: list[str]
    commit: str | None
    branch: str | None
    pushed: bool
    not_committed: list[str]
    local_edits_committed: list[str]
    error: str | None


# --- workflow ------------------------------------------------------------------------------


class RunStarted(TypedDict):
    workflow: str
    inputs: dict[str, Any]
    steps: int


class RunResumed(TypedDict):
    workflow: str
    done: int  # steps that had succeeded before
    steps: int


class RunFinished(TypedDict):
    status: str  # succeeded, failed, cancelled
    counts: NotRequired[dict[str, int]]  # steps per status
    seconds: NotRequired[float]
    reason: NotRequired[str]  # why a run was ended by someone other than its owner
    compensation: NotRequired[str]  # how its compensations ended (succeeded, failed), if any ran
    temporal: NotRequired[dict[str, str]]  # {workflow_id, run_id} of a run on Temporal


class RunRetried(TypedDict):
    workflow: str
    steps: list[str]  # the instances run again: the failed one(s) and what they had held back


class CompensationStarted(TypedDict):
    outcome: str  # failed or cancelled: how the run's steps ended
    steps: list[str]  # the compensations to run (keys compensate:KEY), latest first


class CompensationFinished(TypedDict):
    status: str  # succeeded, or failed when a compensation failed
    counts: dict[str, int]  # compensations per status


class RunInterrupted(TypedDict):
    workflow: str
    reason: str  # why its owner stopped it without ending it (e.g. the server shut down)
    left: int  # steps not done: a resume runs them
    temporal: NotRequired[dict[str, str]]  # {workflow_id, run_id} of a run on Temporal


class StepStarted(TypedDict):
    attempt: int
    temporal: NotRequired[dict[str, str]]  # {workflow_id, run_id} of a run on Temporal


class StepEnded(TypedDict):
    attempt: int  # 0 for a step that never ran (skipped, cancelled)
    status: str
    seconds: NotRequired[float]
    exit_code: NotRequired[int | None]
    error: NotRequired[str | None]
    reason: NotRequired[str | None]  # why it was skipped or cancelled
    outputs: NotRequired[dict[str, str] | None]  # succeeded
    log_tail: NotRequired[str]  # failed
    temporal: NotRequired[dict[str, str]]  # {workflow_id, run_id} of a run on Temporal
    log: NotRequired[dict[str, Any]]  # {host, state_dir, attempt}: where a worker keeps its log


class StepLog(TypedDict):
    stream: str  # stdout or stderr
    text: str
    attempt: int
    temporal: NotRequired[dict[str, str]]  # {workflow_id, run_id} of a run on Temporal


class StepProgress(TypedDict):
    message: str  # what the step is doing, one line (e.g. the line a model just wrote)
    current: NotRequired[int]  # units done so far
    total: NotRequired[int]  # units expected, when known
    unit: NotRequired[str]  # what current and total count (tokens, files)


# --- server ----------------------------------------------------------------------------------


class ConfigReloaded(TypedDict):
    trigger: str  # file (a watched file changed), signal (SIGHUP) or rpc (ConfigService.Reload)
    files: list[str]  # the config files read
    changed: list[str]  # keys whose value changed (no values: some are secrets)
    applied: list[str]  # the changed keys in force from the next call
    restart: list[str]  # the changed keys that take effect when the server restarts


class ConfigRejected(TypedDict):
    trigger: str
    error: str  # as the CLI prints it: file:line:col, field, what is wrong
    file: str | None
    line: int | None
    field: str | None
    hint: str | None


# --- webhooks ---------------------------------------------------------------------------------


class WebhookDelivery(TypedDict):
    """One try of delivering an event to a webhook endpoint (docs/webhooks.md)."""

    endpoint: str  # the endpoint's name in `webhooks.<name>`, never its URL or secret
    status: int | None  # the HTTP status answered; None when none came (timeout, refused)
    attempt: int  # 1 for the first try
    event_seq: int  # the seq of the event delivered
    error: NotRequired[str]  # failed: what went wrong, e.g. "HTTP 500" or "timed out"
    final: NotRequired[bool]  # failed: no retry follows (max_attempts reached)


class WebhookTest(TypedDict):
    endpoint: str


# --- plugins ----------------------------------------------------------------------------------


class PluginStarted(TypedDict):
    """A step plugin's process started and answered (docs/plugins.md)."""

    plugin: str  # the plugin's name (from the plugins: setting, an entry point, PATH)
    seconds: float  # spawn to a Describe answered
    restart: bool  # an earlier process of it had died


class PluginEnded(TypedDict):
    plugin: str
    exit_code: int | None  # negative: killed by that signal; None: not known
    reason: str  # e.g. "stopped" or "exited 3 during a step"


class PluginCallRecord(TypedDict):
    """One Execute of a plugin step (an attempt)."""

    step_type: str
    outcome: str  # succeeded, failed, cancelled, crashed (the plugin died), error (no answer)
    seconds: float


class PluginCalls(TypedDict):
    """Calls of one plugin, published together (a warm call costs about a millisecond)."""

    plugin: str
    calls: list[PluginCallRecord]


# families of types, for `--type` filters and renderers (a type starts with its family's prefix)
WORKSPACE_PREFIX = "nestr.workspace."
CACHE_PREFIX = "nestr.cache."
SYNC_PREFIX = "nestr.sync."
WORKFLOW_PREFIX = "nestr.workflow."
RUN_PREFIX = "nestr.workflow.run."
STEP_PREFIX = "nestr.workflow.step."
SERVER_PREFIX = "nestr.server."
WEBHOOK_PREFIX = "nestr.webhook."  # never delivered to webhooks: no feedback loop
PLUGIN_PREFIX = "nestr.plugin."

REPO_STARTED = EventType(
    "nestr.workspace.repo.started", RepoStarted, "an assembly began work on a repo"
)
REPO_FETCHED = EventType(
    "nestr.workspace.repo.fetched", RepoFetched, "a repo's mirror is ready (fetched or fresh)"
)
REPO_MOVE_FINISHED = EventType(
    "nestr.workspace.repo.move_finished",
    RepoMoveFinished,
    "a checkout move a killed assembly left half-done was finished",
)
REPO_CHECKED_OUT = EventType(
    "nestr.workspace.repo.checked_out", RepoOutcome, "a repo was cloned or updated"
)
REPO_SKIPPED = EventType(
    "nestr.workspace.repo.skipped", RepoOutcome, "a repo was already right, or was refused"
)
REPO_FAILED = EventType(
    "nestr.workspace.repo.failed", RepoOutcome, "a repo could not be assembled (or conflicted)"
)
ASSEMBLY_FINISHED = EventType(
    "nestr.workspace.assembly.finished", AssemblyFinished, "an assembly ended"
)
ASSEMBLY_DISCARDED = EventType(
    "nestr.workspace.assembly.discarded",
    AssemblyDiscarded,
    "a new ephemeral workspace was removed because nothing was assembled",
)
CLONE_FILTER_IGNORED = EventType(
    "nestr.workspace.clone_filter_ignored",
    CloneFilterIgnored,
    "a repo's `clone.filter` cannot be applied (warning)",
)
STATUS_REPO = EventType(
    "nestr.workspace.status.repo", StatusRepo, "the status of one repo of a workspace"
)
WORKSPACE_REMOVED = EventType(
    "nestr.workspace.removed", WorkspaceRemoved, "a workspace and its registration were removed"
)
WORKSPACE_GC_FINISHED = EventType(
    "nestr.workspace.gc.finished", WorkspaceGcFinished, "expired workspaces were collected"
)
CACHE_GC_FINISHED = EventType(
    "nestr.cache.gc.finished", CacheGcFinished, "mirrors no workspace borrows were removed"
)
LOCK_RESOLVED = EventType(
    "nestr.workspace.lock.resolved", LockResolved, "a repo's revision was resolved to a commit"
)
LOCK_FINISHED = EventType(
    "nestr.workspace.lock.finished", LockFinished, "`nestr lock` ended (written only if ok)"
)
FOREACH_STARTED = EventType(
    "nestr.workspace.foreach.started", ForeachStarted, "a foreach command started in a repo"
)
FOREACH_OUTPUT = EventType(
    "nestr.workspace.foreach.output", ForeachOutput, "one line a foreach command printed"
)
FOREACH_FINISHED = EventType(
    "nestr.workspace.foreach.finished",
    ForeachFinished,
    "a foreach command ended in a repo (or did not run)",
)
SYNC_FILE_CREATED = EventType("nestr.sync.file.created", SyncFile, "sync created a file")
SYNC_FILE_UPDATED = EventType("nestr.sync.file.updated", SyncFile, "sync updated a file")
SYNC_FILE_MERGED = EventType(
    "nestr.sync.file.merged", SyncFile, "sync merged a local edit with the new source"
)
SYNC_FILE_DELETED = EventType("nestr.sync.file.deleted", SyncFile, "sync deleted a file")
SYNC_FILE_CONFLICT = EventType(
    "nestr.sync.file.conflict", SyncFile, "a file was left untouched: it conflicts (warning)"
)
SYNC_REPO_FINISHED = EventType(
    "nestr.sync.repo.finished", SyncRepoFinished, "sync ended in one repo"
)
RUN_STARTED = EventType("nestr.workflow.run.started", RunStarted, "a workflow run began")
RUN_RESUMED = EventType("nestr.workflow.run.resumed", RunResumed, "a run was resumed")
RUN_FINISHED = EventType("nestr.workflow.run.finished", RunFinished, "a run ended")
RUN_RETRIED = EventType(
    "nestr.workflow.run.retried", RunRetried, "failed steps of an ended run are run again"
)
COMPENSATION_STARTED = EventType(
    "nestr.workflow.compensation.started",
    CompensationStarted,
    "a failed or cancelled run starts undoing its succeeded steps (warning)",
)
COMPENSATION_FINISHED = EventType(
    "nestr.workflow.compensation.finished",
    CompensationFinished,
    "a run's compensations ended (before its run.finished)",
)
RUN_INTERRUPTED = EventType(
    "nestr.workflow.run.interrupted",
    RunInterrupted,
    "a run was stopped without ending (its server shut down); a resume continues it",
)
STEP_STARTED = EventType("nestr.workflow.step.started", StepStarted, "a step's attempt began")
STEP_RETRYING = EventType(
    "nestr.workflow.step.retrying", StepEnded, "a step's attempt failed; it will be retried"
)
STEP_FINISHED = EventType(
    "nestr.workflow.step.finished", StepEnded, "a step reached its final status"
)
STEP_LOG = EventType("nestr.workflow.step.log", StepLog, "output a step printed (severity debug)")
STEP_PROGRESS = EventType(
    "nestr.workflow.step.progress",
    StepProgress,
    "how far a running step got (an Ollama step: each line its model wrote, tokens so far)",
)
CONFIG_RELOADED = EventType(
    "nestr.server.config.reloaded",
    ConfigReloaded,
    "`nestr serve` swapped in a new config (a watched file changed, SIGHUP, or Reload)",
)
CONFIG_REJECTED = EventType(
    "nestr.server.config.rejected",
    ConfigRejected,
    "`nestr serve` refused an invalid config and keeps the old one (error)",
)
WEBHOOK_DELIVERED = EventType(
    "nestr.webhook.delivered",
    WebhookDelivery,
    "a webhook endpoint accepted an event (2xx)",
)
WEBHOOK_FAILED = EventType(
    "nestr.webhook.failed",
    WebhookDelivery,
    "a try to deliver an event to a webhook failed (retried unless `final`) (warning)",
)
WEBHOOK_DISABLED = EventType(
    "nestr.webhook.disabled",
    WebhookDelivery,
    "a webhook endpoint answered 410 Gone and gets nothing more until enabled (warning)",
)
WEBHOOK_TEST = EventType(
    "nestr.webhook.test",
    WebhookTest,
    "what `nestr webhooks test` sends to an endpoint (never stored in the log)",
)

# the three ways a repo's assembly ends; their data is the same (the repo's result)
REPO_ENDED = frozenset({REPO_CHECKED_OUT.name, REPO_SKIPPED.name, REPO_FAILED.name})

PLUGIN_STARTED = EventType(
    "nestr.plugin.started",
    PluginStarted,
    "a step plugin's process started: spawn, handshake and Describe took `seconds`",
)
PLUGIN_EXITED = EventType(
    "nestr.plugin.exited", PluginEnded, "nestr stopped a step plugin (the command or server ended)"
)
PLUGIN_CRASHED = EventType(
    "nestr.plugin.crashed",
    PluginEnded,
    "a step plugin's process died while nestr used it; the next step starts it again (warning)",
)
PLUGIN_CALLS = EventType(
    "nestr.plugin.calls",
    PluginCalls,
    "plugin step calls that ended, each with its `outcome` and `seconds`, in batches"
    " (up to 256 calls, at most a second after the first)",
)

CATALOG: tuple[EventType[Any], ...] = (
    REPO_STARTED,
    REPO_FETCHED,
    REPO_MOVE_FINISHED,
    REPO_CHECKED_OUT,
    REPO_SKIPPED,
    REPO_FAILED,
    ASSEMBLY_FINISHED,
    ASSEMBLY_DISCARDED,
    CLONE_FILTER_IGNORED,
    STATUS_REPO,
    WORKSPACE_REMOVED,
    WORKSPACE_GC_FINISHED,
    LOCK_RESOLVED,
    LOCK_FINISHED,
    FOREACH_STARTED,
    FOREACH_OUTPUT,
    FOREACH_FINISHED,
    CACHE_GC_FINISHED,
    SYNC_FILE_CREATED,
    SYNC_FILE_UPDATED,
    SYNC_FILE_MERGED,
    SYNC_FILE_DELETED,
    SYNC_FILE_CONFLICT,
    SYNC_REPO_FINISHED,
    RUN_STARTED,
    RUN_RESUMED,
    RUN_FINISHED,
    RUN_RETRIED,
    COMPENSATION_STARTED,
    COMPENSATION_FINISHED,
    RUN_INTERRUPTED,
    STEP_STARTED,
    STEP_RETRYING,
    STEP_FINISHED,
    STEP_LOG,
    STEP_PROGRESS,
    CONFIG_RELOADED,
    CONFIG_REJECTED,
    WEBHOOK_DELIVERED,
    WEBHOOK_FAILED,
    WEBHOOK_DISABLED,
    WEBHOOK_TEST,
    PLUGIN_STARTED,
    PLUGIN_EXITED,
    PLUGIN_CRASHED,
    PLUGIN_CALLS,
)
BY_NAME: Mapping[str, EventType[Any]] = types.MappingProxyType({t.name: t for t in CATALOG})


def fields_of(event_type: EventType[Any]) -> list[tuple[str, str, bool]]:
    """``(key, type, required)`` of each key of ``event_type``'s data, in declaration order."""
    shape = event_type.data
    required = shape.__required_keys__
    return [(key, _type_name(hint), key in required) for key, hint in shape.__annotations__.items()]


def _type_name(hint: Any) -> str:
    origin = getattr(hint, "__origin__", None)
    if origin is NotRequired:
        return _type_name(hint.__args__[0])
    if isinstance(hint, type) and origin is None:  # a class, not list[str]
        return hint.__name__
    text = str(hint).replace("typing.", "").replace("NoneType", "None")
    return text.replace(" | ", " or ")  # a bare | would split the cell of a markdown table


def markdown_table() -> str:
    """The table of every event type that ``docs/events.md`` holds between its markers."""
    rows = ["| type | data | meaning |", "| --- | --- | --- |"]
    for event_type in CATALOG:
        data = ", ".join(
            f"`{key}` ({kind}{'' if required else ', optional'})"
            for key, kind, required in fields_of(event_type)
        )
        rows.append(f"| `{event_type.name}` | {data} | {event_type.description} |")
    return "\n".join(rows) + "\n"


DOC_START = "<!-- catalog:start -->\n"
DOC_END = "<!-- catalog:end -->"


def with_table(doc: str) -> str:
    """``doc`` (the text of ``docs/events.md``) with the table between its markers regenerated."""
    head, rest = doc.split(DOC_START, 1)
    _, tail = rest.split(DOC_END, 1)
    return head + DOC_START + markdown_table() + DOC_END + tail
