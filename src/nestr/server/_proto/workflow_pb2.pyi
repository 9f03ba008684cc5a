from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartRunRequest(_message.Message):
    __slots__ = ("workflow", "manifest", "workspace", "variables", "jobs")
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    workflow: str
    manifest: str
    workspace: str
    variables: _containers.ScalarMap[str, str]
    jobs: int
    def __init__(self, workflow: _Optional[str] = ..., manifest: _Optional[str] = ..., workspace: _Optional[str] = ..., variables: _Optional[_Mapping[str, str]] = ..., jobs: _Optional[int] = ...) -> None: ...

class StartRunResponse(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class Owner(_message.Message):
    __slots__ = ("pid", "host")
    PID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    pid: int
    host: str
    def __init__(self, pid: _Optional[int] = ..., host: _Optional[str] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("id", "workflow", "status", "inputs_json", "created", "finished", "owner", "heartbeat", "cancel_requested", "resumes", "compensation")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    RESUMES_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    workflow: str
    status: str
    inputs_json: str
    created: float
    finished: float
    owner: Owner
    heartbeat: float
    cancel_requested: bool
    resumes: int
    compensation: str
    def __init__(self, id: _Optional[str] = ..., workflow: _Optional[str] = ..., status: _Optional[str] = ..., inputs_json: _Optional[str] = ..., created: _Optional[float] = ..., finished: _Optional[float] = ..., owner: _Optional[_Union[Owner, _Mapping]] = ..., heartbeat: _Optional[float] = ..., cancel_requested: _Optional[bool] = ..., resumes: _Optional[int] = ..., compensation: _Optional[str] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("key", "step", "repo", "status", "attempts", "started", "finished", "duration", "exit_code", "error", "outputs_json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    REPO_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    key: str
    step: str
    repo: str
    status: str
    attempts: int
    started: float
    finished: float
    duration: float
    exit_code: int
    error: str
    outputs_json: str
    def __init__(self, key: _Optional[str] = ..., step: _Optional[str] = ..., repo: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., started: _Optional[float] = ..., finished: _Optional[float] = ..., duration: _Optional[float] = ..., exit_code: _Optional[int] = ..., error: _Optional[str] = ..., outputs_json: _Optional[str] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("key", "attempt", "status", "started", "finished", "exit_code", "error")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    key: str
    attempt: int
    status: str
    started: float
    finished: float
    exit_code: int
    error: str
    def __init__(self, key: _Optional[str] = ..., attempt: _Optional[int] = ..., status: _Optional[str] = ..., started: _Optional[float] = ..., finished: _Optional[float] = ..., exit_code: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ("run", "steps", "attempts", "graph")
    RUN_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    run: Run
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    graph: _containers.RepeatedCompositeFieldContainer[StepNode]
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., graph: _Optional[_Iterable[_Union[StepNode, _Mapping]]] = ...) -> None: ...

class StepNode(_message.Message):
    __slots__ = ("id", "needs", "layer", "foreach", "retry")
    ID_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    FOREACH_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    id: str
    needs: _containers.RepeatedScalarFieldContainer[str]
    layer: int
    foreach: bool
    retry: RetryPolicy
    def __init__(self, id: _Optional[str] = ..., needs: _Optional[_Iterable[str]] = ..., layer: _Optional[int] = ..., foreach: _Optional[bool] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("attempts", "backoff", "initial", "max", "jitter")
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_FIELD_NUMBER: _ClassVar[int]
    INITIAL_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    JITTER_FIELD_NUMBER: _ClassVar[int]
    attempts: int
    backoff: str
    initial: float
    max: float
    jitter: bool
    def __init__(self, attempts: _Optional[int] = ..., backoff: _Optional[str] = ..., initial: _Optional[float] = ..., max: _Optional[float] = ..., jitter: _Optional[bool] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[Run, _Mapping]]] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ("run", "outcome")
    RUN_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    run: Run
    outcome: str
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ..., outcome: _Optional[str] = ...) -> None: ...

class ResumeRunRequest(_message.Message):
    __slots__ = ("run_id", "jobs")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    jobs: int
    def __init__(self, run_id: _Optional[str] = ..., jobs: _Optional[int] = ...) -> None: ...

class ResumeRunResponse(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetStepLogRequest(_message.Message):
    __slots__ = ("run_id", "step", "attempt")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    step: str
    attempt: int
    def __init__(self, run_id: _Optional[str] = ..., step: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class StepLog(_message.Message):
    __slots__ = ("key", "attempt", "stream", "text", "truncated")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    key: str
    attempt: int
    stream: str
    text: str
    truncated: bool
    def __init__(self, key: _Optional[str] = ..., attempt: _Optional[int] = ..., stream: _Optional[str] = ..., text: _Optional[str] = ..., truncated: _Optional[bool] = ...) -> None: ...

class GetStepLogResponse(_message.Message):
    __slots__ = ("logs", "elsewhere")
    LOGS_FIELD_NUMBER: _ClassVar[int]
    ELSEWHERE_FIELD_NUMBER: _ClassVar[int]
    logs: _containers.RepeatedCompositeFieldContainer[StepLog]
    elsewhere: _containers.RepeatedCompositeFieldContainer[LogsElsewhere]
    def __init__(self, logs: _Optional[_Iterable[_Union[StepLog, _Mapping]]] = ..., elsewhere: _Optional[_Iterable[_Union[LogsElsewhere, _Mapping]]] = ...) -> None: ...

class LogsElsewhere(_message.Message):
    __slots__ = ("host", "state_dir", "keys")
    HOST_FIELD_NUMBER: _ClassVar[int]
    STATE_DIR_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    host: str
    state_dir: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, host: _Optional[str] = ..., state_dir: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class ListFailedStepsRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class FailedStep(_message.Message):
    __slots__ = ("run_id", "workflow", "key", "step", "repo", "attempts", "finished", "exit_code", "error")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    REPO_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    workflow: str
    key: str
    step: str
    repo: str
    attempts: int
    finished: float
    exit_code: int
    error: str
    def __init__(self, run_id: _Optional[str] = ..., workflow: _Optional[str] = ..., key: _Optional[str] = ..., step: _Optional[str] = ..., repo: _Optional[str] = ..., attempts: _Optional[int] = ..., finished: _Optional[float] = ..., exit_code: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class ListFailedStepsResponse(_message.Message):
    __slots__ = ("steps",)
    STEPS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[FailedStep]
    def __init__(self, steps: _Optional[_Iterable[_Union[FailedStep, _Mapping]]] = ...) -> None: ...

class RetryStepRequest(_message.Message):
    __slots__ = ("run_id", "step", "jobs")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    step: str
    jobs: int
    def __init__(self, run_id: _Optional[str] = ..., step: _Optional[str] = ..., jobs: _Optional[int] = ...) -> None: ...

class RetryStepResponse(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...
