"""The CLI's client of a nestr server: one channel (address, token, TLS, keepalive) and a
remote session with the operations of :class:`nestr.session.Session`, returning the library's
own types so every command renders the same output locally and through ``--server``.

grpc is imported by the modules of this package, which only a command with a server address
loads: ``nestr --help`` stays cheap. This one imports it first with the C core's own logging off
(:func:`nestr.server.corelog.import_grpc_quietly`): a failed TLS handshake is the one-line error
the command prints, not also a line of the core's in its own format.
"""

from nestr.server.corelog import import_grpc_quietly

import_grpc_quietly()
