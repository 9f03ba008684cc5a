"""XML files that remember the line and column of every element, for located messages.

``xml.etree.ElementTree`` drops positions, so the tree is built through expat directly with a
``TreeBuilder``. The input is a local manifest the user chose to import (trusted); expat does not
fetch external entities, and defusedxml is not a dependency.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from nestr.errors import ManifestError, SourceLocation


@dataclass(frozen=True)
class XmlDocument:
    """The root element of one XML file and the position of each element in it."""

    path: Path
    root: ET.Element
    positions: dict[int, SourceLocation] = field(default_factory=dict)  # id(element) → where

    def locate(self, element: ET.Element) -> SourceLocation:
        return self.positions.get(id(element), SourceLocation(file=self.path))


def load_xml_file(path: Path) -> XmlDocument:
    """Parse ``path``; unreadable files and syntax errors are :class:`ManifestError`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(
            "file not found", location=SourceLocation(file=path), hint="check the path"
        ) from None
    except OSError as exc:
        raise ManifestError(
            f"cannot read file: {exc}", location=SourceLocation(file=path)
        ) from None
    return parse_xml(data, path)


def parse_xml(data: bytes, path: Path) -> XmlDocument:
    """Parse XML ``data`` (named ``path`` in errors) into an :class:`XmlDocument`."""
    parser = expat.ParserCreate()
    builder = ET.TreeBuilder()
    positions: dict[int, SourceLocation] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = builder.start(tag, attrs)
        where = SourceLocation(
            file=path, line=parser.CurrentLineNumber, column=parser.CurrentColumnNumber + 1
        )
        positions[id(element)] = where

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        where = SourceLocation(file=path, line=exc.lineno, column=exc.offset + 1)
        raise ManifestError(
            f"XML syntax error: {expat.ErrorString(exc.code)}", location=where
        ) from None
    return XmlDocument(path=path, root=builder.close(), positions=positions)
