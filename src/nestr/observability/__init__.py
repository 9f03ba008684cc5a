"""Logging, metrics and tracing: cross-cutting, configured once by the face that runs."""
