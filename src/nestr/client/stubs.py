"""The generated gRPC stubs of the server's services, one function each.

protoc writes no type stubs for the ``*_pb2_grpc`` modules, so calling their classes is an
untyped call for mypy; the one ``type: ignore`` per service lives here. The messages
(``*_pb2``) are typed.
"""

from __future__ import annotations

from typing import Any

from grpc import aio

from nestr.server._proto import (
    events_pb2_grpc,
    sync_pb2_grpc,
    workflow_pb2_grpc,
    workspace_pb2_grpc,
)


def events(channel: aio.Channel) -> Any:
    """``nestr.v1.EventService``."""
    return events_pb2_grpc.EventServiceStub(channel)  # type: ignore[no-untyped-call]


def workflows(channel: aio.Channel) -> Any:
    """``nestr.v1.WorkflowService``."""
    return workflow_pb2_grpc.WorkflowServiceStub(channel)  # type: ignore[no-untyped-call]


def workspaces(channel: aio.Channel) -> Any:
    """``nestr.v1.WorkspaceService``."""
    return workspace_pb2_grpc.WorkspaceServiceStub(channel)  # type: ignore[no-untyped-call]


def sync(channel: aio.Channel) -> Any:
    """``nestr.v1.SyncService``."""
    return sync_pb2_grpc.SyncServiceStub(channel)  # type: ignore[no-untyped-call]
