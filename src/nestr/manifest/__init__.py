"""The manifest: which repos make a workspace, and the raw workflow and sync sections."""

from nestr.manifest.model import CloneOptions, Manifest, RepoSpec

__all__ = ["CloneOptions", "Manifest", "RepoSpec"]
