"""The Python SDK of nestr's step plugins: a plugin is a few lines (see :mod:`nestr.plugin.sdk`).

::

    from nestr.plugin import StepCall, serve, step

    @step("echo.say", schema={"type": "object", "required": ["text"]})
    def say(call: StepCall) -> dict[str, str]:
        call.log(call.with_["text"])
        return {"said": call.with_["text"]}

    serve()

Light on purpose: it imports none of nestr's internals, and gRPC only when ``serve()`` runs. The
protocol is ``proto/nestr/plugin/v1/plugin.proto`` (generated into :mod:`nestr.plugin._proto`);
the handshake is :mod:`nestr.plugin.handshake`; docs/plugins.md describes both.
"""

from __future__ import annotations

from nestr.plugin.call import StepCall, StepError
from nestr.plugin.sdk import Plugin, StepSpec, serve, settings, step

__all__ = ["Plugin", "StepCall", "StepError", "StepSpec", "serve", "settings", "step"]
