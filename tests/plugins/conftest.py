"""Fixtures shared with the sync tests: the ``sync.apply`` step works on the same workspaces."""

from tests.sync.conftest import fleet, origin_template

__all__ = ["fleet", "origin_template"]
