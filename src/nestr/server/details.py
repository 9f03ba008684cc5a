"""``google.rpc`` details for the statuses nestr's errors end calls with.

gRPC carries a ``google.rpc.Status`` (code, message, details packed as ``Any``) in the trailing
metadata ``grpc-status-details-bin``; clients read it with ``grpc_status.rpc_status.from_call``
(Python), ``@grpc/grpc-js``'s ``status.metadata`` or ``buf curl``. Every nestr error carries an
``ErrorInfo`` (``reason``: the error class in UPPER_SNAKE_CASE, ``domain`` :data:`DOMAIN`,
``metadata``: ``exit_code``, and ``hint`` when there is one); bad input adds a ``BadRequest``
with one field violation per problem (``field``: the ``file:line:col: key`` the message starts
with), NOT_FOUND a ``ResourceInfo`` (what was looked for), FAILED_PRECONDITION a
``PreconditionFailure``, and an overflowing subscriber a ``RetryInfo`` (retry at once, from the
``seq`` in ``ErrorInfo.metadata``).
"""

from __future__ import annotations

import re

import google.rpc.error_details_pb2 as ed
import google.rpc.status_pb2 as rpc_status
import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message

from nestr.errors import InputError, NestrError, NotFound, each_error

DOMAIN = "nestr.dev"
DETAILS_KEY = "grpc-status-details-bin"
Metadata = tuple[tuple[str, str | bytes], ...]


def reason(error: BaseException) -> str:
    """``RunBusy`` → ``RUN_BUSY``: the error class as ``ErrorInfo.reason`` wants it."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).upper()


def error_details(error: NestrError, code: grpc.StatusCode) -> list[Message]:
    """The details a call failing with ``error`` (ending with ``code``) carries."""
    metadata = {"exit_code": str(error.exit_code)}
    if error.hint:
        metadata["hint"] = error.hint
    details: list[Message] = [ed.ErrorInfo(reason=reason(error), domain=DOMAIN, metadata=metadata)]
    if code == grpc.StatusCode.INVALID_ARGUMENT and isinstance(error, InputError):
        details.append(_bad_request(error))
    elif code == grpc.StatusCode.NOT_FOUND and isinstance(error, NotFound):
        info = ed.ResourceInfo(
            resource_type=error.kind, resource_name=error.name, description=error.message
        )
        details.append(info)
    elif code == grpc.StatusCode.FAILED_PRECONDITION:
        violation = ed.PreconditionFailure.Violation(type=reason(error), description=error.message)
        details.append(ed.PreconditionFailure(violations=[violation]))
    return details


def _bad_request(error: InputError) -> ed.BadRequest:
    """One field violation per single problem; ``field`` is where the message says it is."""
    violations = []
    for single in each_error(error):
        parts = [str(single.location)] if single.location is not None else []
        if single.field:
            parts.append(single.field)
        field = ": ".join(parts)
        violations.append(ed.BadRequest.FieldViolation(field=field, description=single.detail))
    return ed.BadRequest(field_violations=violations)


def overflow_details(resume_after_seq: int) -> list[Message]:
    """An overflowing subscriber's details: subscribe again at once, after this ``seq``."""
    info = ed.ErrorInfo(
        reason="SUBSCRIBER_OVERFLOW",
        domain=DOMAIN,
        metadata={"resume_after_seq": str(resume_after_seq)},
    )
    return [info, ed.RetryInfo(retry_delay=duration_pb2.Duration(seconds=0))]


def status_metadata(code: grpc.StatusCode, message: str, details: list[Message]) -> Metadata:
    """The trailing metadata that carries ``google.rpc.Status(code, message, details)``;
    ``message`` must be the status message the call ends with (clients check it)."""
    packed = []
    for detail in details:
        wrapped = any_pb2.Any()
        wrapped.Pack(detail)
        packed.append(wrapped)
    number: int = code.value[0]
    status = rpc_status.Status(code=number, message=message, details=packed)
    return ((DETAILS_KEY, status.SerializeToString()),)
