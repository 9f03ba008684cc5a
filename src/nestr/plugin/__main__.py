"""``python -m nestr.plugin NAME``: serve the plugin of entry point NAME (group ``nestr.plugins``).

How nestr starts a plugin a Python package declares as an entry point. The entry point names a
:class:`~nestr.plugin.sdk.Plugin` or a function that serves.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

from nestr.plugin.sdk import Plugin


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python -m nestr.plugin NAME  (an entry point of group nestr.plugins)")
    found = [p for p in entry_points(group="nestr.plugins") if p.name == argv[0]]
    if not found:
        sys.exit(f"no entry point {argv[0]!r} in group nestr.plugins")
    target = found[0].load()
    if isinstance(target, Plugin):
        target.serve()
    else:
        target()


if __name__ == "__main__":
    main(sys.argv[1:])
