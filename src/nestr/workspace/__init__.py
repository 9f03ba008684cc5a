"""Workspaces: assembling, updating, locking, status, foreach, ephemeral workspaces."""
