"""Group filter semantics (west's): last mention wins, repos without groups stay active."""

from __future__ import annotations

from pathlib import Path

import pytest

from nestr.manifest.groups import disabled_groups, is_active
from nestr.manifest.loader import load_manifest_text


@pytest.mark.parametrize(
    ("groups", "group_filter", "active"),
    [
        ((), ("-a", "-b"), True),  # no groups: always active
        (("a",), (), True),  # groups are enabled unless disabled
        (("a",), ("-a",), False),
        (("a", "b"), ("-a",), True),  # any enabled group is enough
        (("a", "b"), ("-a", "-b"), False),
        (("a",), ("-a", "+a"), True),  # the last mention wins
        (("a",), ("+a", "-a"), False),
        (("a",), ("+b", "-c"), True),
    ],
)
def test_is_active_follows_west_semantics(
    groups: tuple[str, ...], group_filter: tuple[str, ...], active: bool
) -> None:
    """A repo is active if it has no groups or any group whose last filter mention is not -group."""
    assert is_active(groups, group_filter) is active


def test_disabled_groups_keeps_only_last_mentions() -> None:
    """Only groups whose last entry is -group are disabled."""
    assert disabled_groups(["-a", "-b", "+a", "+c", "-c"]) == {"b", "c"}


def test_group_filter_marks_repos_inactive_and_select_can_still_name_them(tmp_path: Path) -> None:
    """Inactive repos stay in the manifest; select() returns them only when named or included."""
    text = (
        "version: 1\ngroup_filter: [-optional, +tools, -tools]\nrepos:\n"
        "  - {name: core, url: 'https://h/core'}\n"
        "  - {name: opt, url: 'https://h/opt', groups: [optional]}\n"
        "  - {name: both, url: 'https://h/both', groups: [optional, hw]}\n"
        "  - {name: tool, url: 'https://h/tool', groups: [tools]}\n"
    )
    manifest = load_manifest_text(text, tmp_path / "nestr.yaml")
    assert [r.name for r in manifest.active_repos()] == ["core", "both"]
    assert [r.name for r in manifest.select(names=["opt"])] == ["opt"]
    assert [r.name for r in manifest.select(groups=["optional"], include_inactive=True)] == [
        "opt",
        "both",
    ]
