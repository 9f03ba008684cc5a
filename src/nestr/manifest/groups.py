"""Group filter semantics, as in west: which repos a ``group_filter`` leaves active.

A filter is a list of ``+group`` / ``-group`` entries. A group is enabled unless the last entry
that mentions it is ``-group``; a repo is active if it has no groups or any of its groups is
enabled (west's manifest docs, "Project Groups").
"""

from __future__ import annotations

from collections.abc import Iterable


def disabled_groups(group_filter: Iterable[str]) -> frozenset[str]:
    """Groups whose last mention in ``group_filter`` is ``-group``."""
    state: dict[str, bool] = {}
    for entry in group_filter:
        state[entry[1:]] = entry.startswith("+")
    return frozenset(group for group, enabled in state.items() if not enabled)


def is_active(groups: Iterable[str], group_filter: Iterable[str]) -> bool:
    """Whether a repo in ``groups`` is active under ``group_filter``."""
    mine = list(groups)
    if not mine:
        return True
    disabled = disabled_groups(group_filter)
    return any(group not in disabled for group in mine)
