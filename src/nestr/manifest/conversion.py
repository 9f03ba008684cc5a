"""The result of translating between nestr manifests and other tools' formats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Conversion:
    """A translated document, and what the target format cannot express, by name.

    ``data`` is plain YAML-ready data (a nestr.yaml for importers, a west or vcstool manifest for
    exporters). Nothing the target cannot express is dropped silently: each such item is one
    line in ``warnings``.
    """

    data: dict[str, Any]
    warnings: tuple[str, ...] = ()
