"""How a manifest's ``clone`` options apply when every repo comes from a mirror of its URL.

``depth`` decides how much history a mirror must hold; one mirror serves every repo with the
same URL, so within one run the mirror gets the most any of them needs (all of it if one of
them sets no depth) before any of them is cloned. ``filter`` is not applied: a partial mirror
cannot serve ``git clone --shared`` (the checkout needs blobs the mirror never fetched, and the
clone has no promisor remote to ask), nor an ``--offline`` assembly.
"""

from __future__ import annotations

from collections.abc import Sequence

from nestr.manifest.model import RepoSpec

FILTER_NOT_APPLIED = (
    "clone.filter is not applied: mirrors keep every object so workspaces can be assembled offline"
)


def mirror_depths(specs: Sequence[RepoSpec]) -> dict[str, int | None]:
    """URL → the depth its mirror must have for these repos (None: the whole history)."""
    needed: dict[str, int | None] = {}
    for spec in specs:
        new = spec.clone.depth
        old = needed.get(spec.url, new)
        needed[spec.url] = None if old is None or new is None else max(old, new)
    return needed


def unapplied_filters(specs: Sequence[RepoSpec]) -> dict[str, list[str]]:
    """Each distinct ``clone.filter`` value → the names of the repos that set it."""
    by_filter: dict[str, list[str]] = {}
    for spec in specs:
        if spec.clone.filter:
            by_filter.setdefault(spec.clone.filter, []).append(spec.name)
    return by_filter
