"""Keeping gRPC's C core off ``nestr serve``'s stderr.

The core logs through absl straight to file descriptor 2, in its own format (``I1207
05:34:52.06 30208 ssl_transport_security.cc:2563] Handshake failed …``): an INFO line for every
failed TLS handshake (a plaintext client, a client without the certificate mTLS wants, one
trusting another CA), an ERROR line when a port cannot be bound (which nestr reports itself),
and, with ``GRPC_TRACE``, trace lines. Such lines break ``--log-format json``, where every
stderr line is a JSON object, and say nothing nestr's own log and errors do not.

The core reads ``GRPC_VERBOSITY`` once, when ``grpc`` is imported (``NONE``: nothing;
``ERROR``, ``INFO``, ``DEBUG``: that level and above). :func:`import_grpc_quietly` imports it
with ``NONE`` unless the user set the variable, then takes the variable away again, so the
steps and commands the server starts see the environment they were given.
"""

from __future__ import annotations

import os
import sys

VERBOSITY = "GRPC_VERBOSITY"


def import_grpc_quietly() -> bool:
    """Import ``grpc`` with its core's logging off unless ``GRPC_VERBOSITY`` is set; True
    when it did (False: the user chose a verbosity, or ``grpc`` was already imported and the
    core's verbosity is settled)."""
    if VERBOSITY in os.environ or "grpc" in sys.modules:
        return False
    os.environ[VERBOSITY] = "NONE"
    try:
        import grpc  # noqa: F401  (the import is what reads the variable)
    finally:
        del os.environ[VERBOSITY]
    return True
