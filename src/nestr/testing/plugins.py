"""Testing a step plugin: run it through the conformance driver of ``nestr plugin check``.

::

    from nestr.testing import check_plugin

    def test_my_plugin_conforms():
        report = check_plugin(["my-plugin"], step="mine.do", with_={"x": 1}, slow="mine.wait")
        assert report.ok, report.to_dict()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nestr.plugins.check import CheckReport


def check_plugin(
    command: Sequence[str],
    *,
    step: str | None = None,
    with_: Mapping[str, Any] | None = None,
    slow: str | None = None,
    slow_with: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
) -> CheckReport:
    """The findings of ``nestr plugin check COMMAND`` with these options (see docs/plugins.md);
    gRPC is imported only when this runs."""
    from nestr.plugins.check import CheckOptions
    from nestr.plugins.check import check_plugin as check

    options = CheckOptions(step, dict(with_ or {}), slow, dict(slow_with or {}))
    return check(command, cwd=cwd or Path.cwd(), options=options)
