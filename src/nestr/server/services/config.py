"""``nestr.v1.ConfigService``: the configuration the server runs with, as ``nestr config show
--origin --json`` shows it.

Values come from :meth:`nestr.config.loaded.LoadedConfig.values`, the one place that masks
secrets (tokens, credential tokens, ``server.tls.key``), so a secret never reaches a client.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import grpc

from nestr.server._proto import config_pb2 as pb
from nestr.server._proto import config_pb2_grpc as pb_grpc
from nestr.server.errors import Context, mapped

if TYPE_CHECKING:
    from nestr.config.loaded import LoadedConfig


class ConfigService(pb_grpc.ConfigServiceServicer):
    """Shows ``config``, the configuration the server was started with (None: the server was
    started from code without one; GetConfig then ends FAILED_PRECONDITION)."""

    def __init__(self, config: LoadedConfig | None) -> None:
        self.config = config

    @mapped
    async def GetConfig(
        self, request: pb.GetConfigRequest, context: Context
    ) -> pb.GetConfigResponse:
        loaded = self.config
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
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "Reload is not available yet: restart nestr serve to apply changed config files",
        )
