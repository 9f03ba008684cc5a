"""The gRPC face: ``nestr serve``, a ``grpc.aio`` server over one session (see docs/api.md).

Importing it is cheap; gRPC and the generated modules load in :mod:`nestr.server.app`.
"""
