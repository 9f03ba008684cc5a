"""The gRPC services, each a thin translation between protobuf messages and the session."""
