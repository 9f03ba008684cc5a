"""``nestr.v1.ConfigService``: the configuration the server runs with, as ``nestr config show
--origin --json`` shows it, and a reload on demand.

Values come from :meth:`nestr.config.loaded.LoadedConfig.values`, the one place that masks
secrets (tokens, credential tokens, ``server.tls.key``), so a secret never reaches a client.
With a :class:`~nestr.config.live.LiveConfig` the config shown is the one in force after the
last reload; ``Reload`` runs the server's :class:`~nestr.server.reload.ConfigReloader` (the one
SIGHUP and file changes run), so a reload asked over gRPC is logged, published and applied the
same way.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import grpc

from nestr.config.live import LiveConfig
from nestr.server._proto import config_pb2 as pb
from nestr.server._proto import config_pb2_grpc as pb_grpc
from nestr.server.errors import Context, mapped

if TYPE_CHECKING:
    from nestr.config.loaded import LoadedConfig
    from nestr.server.reload import ConfigReloader


class ConfigService(pb_grpc.ConfigServiceServicer):
    """Shows ``config``, the configuration in force (None: the server was started from code
    without one; GetConfig then ends FAILED_PRECONDITION); ``reloader``, set once the server's
    reloader runs, serves Reload (without one Reload ends UNIMPLEMENTED)."""

    def __init__(self, config: LoadedConfig | LiveConfig | None) -> None:
        self.config = config
        self.reloader: ConfigReloader | None = None

    @mapped
    async def GetConfig(
        self, request: pb.GetConfigRequest, context: Context
    ) -> pb.GetConfigResponse:
        loaded = self.config.current if isinstance(self.config, LiveConfig) else self.config
        if loaded is None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                "this server was started without its configuration (start(config=...))",
            )
        settings = [
            pb.Setting(
                key=key,
                value_json=json.dumps(value, sort_keys=True, ensure_ascii=False, default=str),
                origin=str(loaded.origins[key]),
            )
            for key, value in loaded.values().items()
        ]
        return pb.GetConfigResponse(settings=settings, files=[str(f) for f in loaded.files])

    @mapped
    async def Reload(self, request: pb.ReloadRequest, context: Context) -> pb.ReloadResponse:
        from nestr.server.reload import LIVE_KEYS

        if self.reloader is None:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                "this server does not reload its config: restart it to apply changed config files",
            )
        result = await self.reloader.reload("rpc")
        if result.error is not None:
            raise result.error  # the old config stays; the reloader logged and published it
        changed = sorted(result.changed)
        return pb.ReloadResponse(
            changed=changed,
            applied=[key for key in changed if key in LIVE_KEYS],
            restart=[key for key in changed if key not in LIVE_KEYS],
        )
