from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SyncSelection(_message.Message):
    __slots__ = ("workspace", "manifest", "repos", "groups", "adopt", "jobs")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    ADOPT_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    manifest: str
    repos: _containers.RepeatedScalarFieldContainer[str]
    groups: _containers.RepeatedScalarFieldContainer[str]
    adopt: bool
    jobs: int
    def __init__(self, workspace: _Optional[str] = ..., manifest: _Optional[str] = ..., repos: _Optional[_Iterable[str]] = ..., groups: _Optional[_Iterable[str]] = ..., adopt: _Optional[bool] = ..., jobs: _Optional[int] = ...) -> None: ...

class PlanRequest(_message.Message):
    __slots__ = ("selection", "diff")
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    DIFF_FIELD_NUMBER: _ClassVar[int]
    selection: SyncSelection
    diff: bool
    def __init__(self, selection: _Optional[_Union[SyncSelection, _Mapping]] = ..., diff: _Optional[bool] = ...) -> None: ...

class SyncRepoError(_message.Message):
    __slots__ = ("message", "hint", "exit_code")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    message: str
    hint: str
    exit_code: int
    def __init__(self, message: _Optional[str] = ..., hint: _Optional[str] = ..., exit_code: _Optional[int] = ...) -> None: ...

class SyncFile(_message.Message):
    __slots__ = ("path", "action", "policy", "source", "source_path", "detail", "diff", "written", "saved_blob")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DIFF_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    SAVED_BLOB_FIELD_NUMBER: _ClassVar[int]
    path: str
    action: str
    policy: str
    source: str
    source_path: str
    detail: str
    diff: str
    written: bool
    saved_blob: str
    def __init__(self, path: _Optional[str] = ..., action: _Optional[str] = ..., policy: _Optional[str] = ..., source: _Optional[str] = ..., source_path: _Optional[str] = ..., detail: _Optional[str] = ..., diff: _Optional[str] = ..., written: _Optional[bool] = ..., saved_blob: _Optional[str] = ...) -> None: ...

class SyncRepo(_message.Message):
    __slots__ = ("repo", "path", "error", "files", "lock_written", "commit", "branch", "pushed", "not_committed", "local_edits_committed")
    REPO_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    LOCK_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    PUSHED_FIELD_NUMBER: _ClassVar[int]
    NOT_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    LOCAL_EDITS_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    repo: str
    path: str
    error: SyncRepoError
    files: _containers.RepeatedCompositeFieldContainer[SyncFile]
    lock_written: bool
    commit: str
    branch: str
    pushed: bool
    not_committed: _containers.RepeatedScalarFieldContainer[str]
    local_edits_committed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, repo: _Optional[str] = ..., path: _Optional[str] = ..., error: _Optional[_Union[SyncRepoError, _Mapping]] = ..., files: _Optional[_Iterable[_Union[SyncFile, _Mapping]]] = ..., lock_written: _Optional[bool] = ..., commit: _Optional[str] = ..., branch: _Optional[str] = ..., pushed: _Optional[bool] = ..., not_committed: _Optional[_Iterable[str]] = ..., local_edits_committed: _Optional[_Iterable[str]] = ...) -> None: ...

class PlanResponse(_message.Message):
    __slots__ = ("sources_json", "repos", "summary", "conflicts", "exit_code")
    class SummaryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SOURCES_JSON_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    sources_json: str
    repos: _containers.RepeatedCompositeFieldContainer[SyncRepo]
    summary: _containers.ScalarMap[str, int]
    conflicts: int
    exit_code: int
    def __init__(self, sources_json: _Optional[str] = ..., repos: _Optional[_Iterable[_Union[SyncRepo, _Mapping]]] = ..., summary: _Optional[_Mapping[str, int]] = ..., conflicts: _Optional[int] = ..., exit_code: _Optional[int] = ...) -> None: ...

class ApplyRequest(_message.Message):
    __slots__ = ("selection", "commit", "branch", "message", "push", "conflicts")
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PUSH_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    selection: SyncSelection
    commit: bool
    branch: str
    message: str
    push: bool
    conflicts: str
    def __init__(self, selection: _Optional[_Union[SyncSelection, _Mapping]] = ..., commit: _Optional[bool] = ..., branch: _Optional[str] = ..., message: _Optional[str] = ..., push: _Optional[bool] = ..., conflicts: _Optional[str] = ...) -> None: ...

class ApplyResponse(_message.Message):
    __slots__ = ("sources_json", "repos", "summary", "conflicts", "exit_code")
    class SummaryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SOURCES_JSON_FIELD_NUMBER: _ClassVar[int]
    REPOS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    sources_json: str
    repos: _containers.RepeatedCompositeFieldContainer[SyncRepo]
    summary: _containers.ScalarMap[str, int]
    conflicts: int
    exit_code: int
    def __init__(self, sources_json: _Optional[str] = ..., repos: _Optional[_Iterable[_Union[SyncRepo, _Mapping]]] = ..., summary: _Optional[_Mapping[str, int]] = ..., conflicts: _Optional[int] = ..., exit_code: _Optional[int] = ...) -> None: ...
