"""Build and run the gRPC server over one session: the services, health, reflection, auth.

:func:`start` returns a running :class:`Server` (the port it got, the services); ``nestr serve``
starts one and stops it on SIGTERM/SIGINT, tests and embedders do the same in their own loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from nestr.errors import EXIT_USAGE, NestrError
from nestr.server._proto import (
    config_pb2,
    config_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    sync_pb2,
    sync_pb2_grpc,
    workflow_pb2,
    workflow_pb2_grpc,
    workspace_pb2,
    workspace_pb2_grpc,
)
from nestr.server.auth import TokenInterceptor
from nestr.server.calls import CallInterceptor
from nestr.server.drain import DrainGate, drain
from nestr.server.services.config import ConfigService
from nestr.server.services.events import EventService, StreamLimits
from nestr.server.services.sync import SyncService
from nestr.server.services.workflow import WorkflowService
from nestr.server.services.workspace import WorkspaceService
from nestr.server.tls import ServerTls

if TYPE_CHECKING:
    from nestr.config.live import LiveConfig
    from nestr.config.loaded import LoadedConfig
    from nestr.session import Session

GRACE = 5.0  # seconds in-flight calls get to finish on shutdown (server.drain_grace)
SERVICES = (
    events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    workflow_pb2.DESCRIPTOR.services_by_name["WorkflowService"].full_name,
    workspace_pb2.DESCRIPTOR.services_by_name["WorkspaceService"].full_name,
    sync_pb2.DESCRIPTOR.services_by_name["SyncService"].full_name,
    config_pb2.DESCRIPTOR.services_by_name["ConfigService"].full_name,
)


@dataclass(frozen=True)
class Keepalive:
    """HTTP/2 pings that find dead clients: after ``interval`` seconds without traffic the
    server pings; a connection that does not answer within ``timeout`` seconds is closed, and
    its streams end (their subscribers' resources are freed). Clients may ping every 10 s."""

    interval: float = 30.0
    timeout: float = 10.0

    def options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.keepalive_time_ms", int(self.interval * 1000)),
            ("grpc.keepalive_timeout_ms", int(self.timeout * 1000)),
            ("grpc.http2.ping_timeout_ms", int(self.timeout * 1000)),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.http2.min_time_between_pings_ms", int(self.interval * 1000)),
        ]


class ServerConfigError(NestrError):
    """The server must not start as configured (exit 2)."""

    exit_code = EXIT_USAGE


@dataclass
class Server:
    """A started server: the address it is bound to and its services."""

    grpc: aio.Server
    port: int
    events: EventService
    health: health.aio.HealthServicer
    workflows: WorkflowService | None = None
    workspaces: WorkspaceService | None = None
    auth: TokenInterceptor | None = None  # its token is what a config reload replaces
    config: ConfigService | None = None  # its reloader, once set, serves Reload
    gate: DrainGate | None = None  # refuses new work once the server drains

    async def stop(self, grace: float = GRACE, *, hurry: asyncio.Event | None = None) -> None:
        """Drain and close (:func:`nestr.server.drain.drain`): no new work, streams end with a
        resume point, runs are left to a resume, calls in flight get ``grace`` seconds;
        ``hurry``, once set, cuts it short."""
        await drain(self, grace, hurry)


def check_listen(listen: str, token: str | None, *, mtls: bool = False) -> tuple[str, int]:
    """The host and port of ``listen``; refuses a non-loopback host without a token or mTLS."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ServerConfigError(
            f"server.listen: {listen!r} is not host:port", hint="e.g. 127.0.0.1:7433"
        )
    host = host.strip("[]")
    if token is None and not mtls and not _loopback(host):
        raise ServerConfigError(
            f"server.listen: {listen!r} is not a loopback address and server.token is not set "
            "(nor mTLS: server.tls.client_ca)",
            hint="set server.token (or server.token_file) or mTLS, or listen on 127.0.0.1",
        )
    return host, int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def start(
    session: Session,
    *,
    listen: str,
    token: str | None,
    limits: StreamLimits | None = None,
    keepalive: Keepalive | None = None,
    tls: ServerTls | None = None,
    config: LoadedConfig | LiveConfig | None = None,
) -> Server:
    """Bind ``listen`` (port 0: any free port) and start serving ``session`` (over TLS with
    ``tls``, from :func:`nestr.server.tls.server_tls`); ``config``: what ``GetConfig`` shows
    (a :class:`~nestr.config.live.LiveConfig`: the one in force after the last reload)."""
    host, port = check_listen(listen, token, mtls=tls is not None and tls.mutual)
    # the call's correlation first, so that refused calls are logged too
    auth = TokenInterceptor(token)  # installed without a token too: a reload may set one
    gate = DrainGate()
    interceptors: list[aio.ServerInterceptor] = [*_traced(), CallInterceptor(auth), auth, gate]
    server = aio.server(interceptors=interceptors, options=(keepalive or Keepalive()).options())
    events = EventService(session, limits or StreamLimits())
    # the generated registration function is untyped (protoc writes no stubs for it)
    events_pb2_grpc.add_EventServiceServicer_to_server(events, server)  # type: ignore[no-untyped-call]
    workflows = WorkflowService(session)
    workflow_pb2_grpc.add_WorkflowServiceServicer_to_server(workflows, server)  # type: ignore[no-untyped-call]
    workspaces = WorkspaceService(session)
    workspace_pb2_grpc.add_WorkspaceServiceServicer_to_server(workspaces, server)  # type: ignore[no-untyped-call]
    sync_pb2_grpc.add_SyncServiceServicer_to_server(SyncService(session), server)  # type: ignore[no-untyped-call]
    configs = ConfigService(config)
    config_pb2_grpc.add_ConfigServiceServicer_to_server(configs, server)  # type: ignore[no-untyped-call]
    checks = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection((*SERVICES, health_name, reflection.SERVICE_NAME), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if tls is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, tls.credentials)
    except RuntimeError as exc:  # grpc reports a failed bind this way
        raise NestrError(
            f"cannot listen on {listen!r}: the port is in use or the address is not this machine's",
            hint="choose another server.listen (port 0 picks a free one)",
        ) from exc
    await server.start()
    for name in (*SERVICES, ""):
        await checks.set(name, health_pb2.HealthCheckResponse.SERVING)
    return Server(server, bound, events, checks, workflows, workspaces, auth, configs, gate)


def _traced() -> list[aio.ServerInterceptor]:
    """A span per call, outermost, when tracing is on (only then is OpenTelemetry loaded)."""
    from nestr.observability.tracing import enabled

    if not enabled():
        return []
    from nestr.watchers.tracing_grpc import server_interceptors

    return server_interceptors()
