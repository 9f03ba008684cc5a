from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssembleRequest(_message.Message):
    __slots__ = ("manifest", "workspace", "groups", "repos", "locked", "offline", "jobs", "dissociate", "stash", "force", "ephemeral", "ttl_seconds")
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    DISSOCIATE_FIELD_NUMBER: _ClassVar[int]
    STASH_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    manifest: str
    workspace: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    repos: _containers.RepeatedScalarFieldContainer[str]
    locked: bool
    offline: bool
    jobs: int
    dissociate: bool
    stash: bool
    force: bool
    ephemeral: bool
    ttl_seconds: int
    def __init__(self, manifest: _Optional[str] = ..., workspace: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ..., repos: _Optional[_Iterable[str]] = ..., locked: _Optional[bool] = ..., offline: _Optional[bool] = ..., jobs: _Optional[int] = ..., dissociate: _Optional[bool] = ..., stash: _Optional[bool] = ..., force: _Optional[bool] = ..., ephemeral: _Optional[bool] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class AssembleResponse(_message.Message):
    __slots__ = ("correlation_id", "workspace", "repos")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    workspace: str
    repos: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, correlation_id: _Optional[str] = ..., workspace: _Optional[str] = ..., repos: _Optional[_Iterable[str]] = ...) -> None: ...

class LockRequest(_message.Message):
    __slots__ = ("manifest", "jobs", "offline")
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_FIELD_NUMBER: _ClassVar[int]
    manifest: str
    jobs: int
    offline: bool
    def __init__(self, manifest: _Optional[str] = ..., jobs: _Optional[int] = ..., offline: _Optional[bool] = ...) -> None: ...

class LockedRepo(_message.Message):
    __slots__ = ("name", "url", "revision", "commit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    revision: str
    commit: str
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., revision: _Optional[str] = ..., commit: _Optional[str] = ...) -> None: ...

class LockFailure(_message.Message):
    __slots__ = ("name", "revision", "message", "hint")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    name: str
    revision: str
    message: str
    hint: str
    def __init__(self, name: _Optional[str] = ..., revision: _Optional[str] = ..., message: _Optional[str] = ..., hint: _Optional[str] = ...) -> None: ...

class LockResponse(_message.Message):
    __slots__ = ("path", "ok", "written", "manifest_hash", "seconds", "repos", "failures")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_HASH_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    path: str
    ok: bool
    written: bool
    manifest_hash: str
    seconds: float
    repos: _containers.RepeatedCompositeFieldContainer[LockedRepo]
    failures: _containers.RepeatedCompositeFieldContainer[LockFailure]
    def __init__(self, path: _Optional[str] = ..., ok: _Optional[bool] = ..., written: _Optional[bool] = ..., manifest_hash: _Optional[str] = ..., seconds: _Optional[float] = ..., repos: _Optional[_Iterable[_Union[LockedRepo, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[LockFailure, _Mapping]]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("manifest", "workspace", "groups", "repos", "jobs")
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    manifest: str
    workspace: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    repos: _containers.RepeatedScalarFieldContainer[str]
    jobs: int
    def __init__(self, manifest: _Optional[str] = ..., workspace: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ..., repos: _Optional[_Iterable[str]] = ..., jobs: _Optional[int] = ...) -> None: ...

class StatusChanges(_message.Message):
    __slots__ = ("staged", "unstaged", "untracked", "conflicted")
    STAGED_FIELD_NUMBER: _ClassVar[int]
    UNSTAGED_FIELD_NUMBER: _ClassVar[int]
    UNTRACKED_FIELD_NUMBER: _ClassVar[int]
    CONFLICTED_FIELD_NUMBER: _ClassVar[int]
    staged: int
    unstaged: int
    untracked: int
    conflicted: int
    def __init__(self, staged: _Optional[int] = ..., unstaged: _Optional[int] = ..., untracked: _Optional[int] = ..., conflicted: _Optional[int] = ...) -> None: ...

class StatusLock(_message.Message):
    __slots__ = ("commit", "state")
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    commit: str
    state: str
    def __init__(self, commit: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class StatusRepo(_message.Message):
    __slots__ = ("name", "path", "revision", "state", "error", "branch", "detached", "commit", "upstream", "ahead", "behind", "changes", "dirty", "lock")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    DETACHED_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    AHEAD_FIELD_NUMBER: _ClassVar[int]
    BEHIND_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    DIRTY_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    revision: str
    state: str
    error: str
    branch: str
    detached: bool
    commit: str
    upstream: str
    ahead: int
    behind: int
    changes: StatusChanges
    dirty: bool
    lock: StatusLock
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., revision: _Optional[str] = ..., state: _Optional[str] = ..., error: _Optional[str] = ..., branch: _Optional[str] = ..., detached: _Optional[bool] = ..., commit: _Optional[str] = ..., upstream: _Optional[str] = ..., ahead: _Optional[int] = ..., behind: _Optional[int] = ..., changes: _Optional[_Union[StatusChanges, _Mapping]] = ..., dirty: _Optional[bool] = ..., lock: _Optional[_Union[StatusLock, _Mapping]] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("workspace", "manifest", "lock_file", "repos", "ok")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    LOCK_FILE_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    manifest: str
    lock_file: str
    repos: _containers.RepeatedCompositeFieldContainer[StatusRepo]
    ok: bool
    def __init__(self, workspace: _Optional[str] = ..., manifest: _Optional[str] = ..., lock_file: _Optional[str] = ..., repos: _Optional[_Iterable[_Union[StatusRepo, _Mapping]]] = ..., ok: _Optional[bool] = ...) -> None: ...

class ListWorkspacesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegisteredWorkspace(_message.Message):
    __slots__ = ("id", "root", "manifest", "created", "expires", "ephemeral", "repos", "exists", "expired")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    id: str
    root: str
    manifest: str
    created: str
    expires: str
    ephemeral: bool
    repos: _containers.RepeatedScalarFieldContainer[str]
    exists: bool
    expired: bool
    def __init__(self, id: _Optional[str] = ..., root: _Optional[str] = ..., manifest: _Optional[str] = ..., created: _Optional[str] = ..., expires: _Optional[str] = ..., ephemeral: _Optional[bool] = ..., repos: _Optional[_Iterable[str]] = ..., exists: _Optional[bool] = ..., expired: _Optional[bool] = ...) -> None: ...

class ListWorkspacesResponse(_message.Message):
    __slots__ = ("workspaces",)
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    workspaces: _containers.RepeatedCompositeFieldContainer[RegisteredWorkspace]
    def __init__(self, workspaces: _Optional[_Iterable[_Union[RegisteredWorkspace, _Mapping]]] = ...) -> None: ...

class RemoveWorkspaceRequest(_message.Message):
    __slots__ = ("workspace", "force")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    force: bool
    def __init__(self, workspace: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RemoveWorkspaceResponse(_message.Message):
    __slots__ = ("id", "root", "removed")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    id: str
    root: str
    removed: bool
    def __init__(self, id: _Optional[str] = ..., root: _Optional[str] = ..., removed: _Optional[bool] = ...) -> None: ...
