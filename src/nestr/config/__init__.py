"""Layered configuration with provenance: see ``nestr.config.layers`` for the order."""
