"""The CLI's client of a nestr server: one channel (address, token, TLS, keepalive) and a
remote session with the operations of :class:`nestr.session.Session`, returning the library's
own types so every command renders the same output locally and through ``--server``.

grpc is imported by the modules of this package, never by this one: ``nestr --help`` stays cheap.
"""
