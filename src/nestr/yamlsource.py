"""YAML documents that remember where every value came from.

Config files and manifests are parsed once into plain Python data plus a map from each value's
path (a tuple of keys and indexes) to its position, so a validation error anywhere later can name
``file:line:col``. Duplicate keys, which YAML silently resolves to the last one, are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nestr.errors import InputError, SourceLocation
from nestr.inputcache import text_digest

KeyPath = tuple[str | int, ...]

try:  # libyaml is ~10x faster when the wheel has it
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class YamlDocument:
    """Parsed data of one YAML file and the position of every value and key in it."""

    path: Path
    data: Any
    positions: dict[KeyPath, SourceLocation] = field(default_factory=dict)
    key_positions: dict[KeyPath, SourceLocation] = field(default_factory=dict)
    digest: str | None = None  # of the text parsed (nestr.inputcache.text_digest)

    def locate(self, key_path: KeyPath) -> SourceLocation:
        """Position of the value at ``key_path``, or of its nearest located ancestor."""
        probe = tuple(key_path)
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), SourceLocation(file=self.path))

    def locate_key(self, key_path: KeyPath) -> SourceLocation:
        """Position of the key that names ``key_path`` (falls back to the value's position)."""
        return self.key_positions.get(tuple(key_path)) or self.locate(key_path)


def load_yaml_file(path: Path, *, error: type[InputError] = InputError) -> YamlDocument:
    """Read and parse ``path``; syntax errors become ``error`` with line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(
            "file not found", location=SourceLocation(file=path), hint="check the path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read file: {exc}", location=SourceLocation(file=path)) from None
    return parse_yaml(text, path, error=error)


def parse_yaml(text: str, path: Path, *, error: type[InputError] = InputError) -> YamlDocument:
    """Parse ``text`` (named ``path`` in errors) into a :class:`YamlDocument`."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _location(path, mark)
        problem = exc.problem or "invalid YAML"
        raise error(f"YAML syntax error: {problem}", location=where) from None
    except yaml.YAMLError as exc:
        raise error(f"YAML error: {exc}", location=SourceLocation(file=path)) from None
    finally:
        loader.dispose()
    positions: dict[KeyPath, SourceLocation] = {}
    key_positions: dict[KeyPath, SourceLocation] = {}
    if node is not None:
        for key_path, value_node, key_node in _walk(node, ()):
            positions[key_path] = _location(path, value_node.start_mark)
            if key_node is not None:
                loc = _location(path, key_node.start_mark)
                if key_path in key_positions:
                    raise error(
                        f"duplicate key {key_path[-1]!r}",
                        location=loc,
                        hint=f"it is already set at line {key_positions[key_path].line}",
                    )
                key_positions[key_path] = loc
    return YamlDocument(
        path=path,
        data=data,
        positions=positions,
        key_positions=key_positions,
        digest=text_digest(text),
    )


def _location(path: Path, mark: Any) -> SourceLocation:
    if mark is None:
        return SourceLocation(file=path)
    return SourceLocation(file=path, line=mark.line + 1, column=mark.column + 1)


def _walk(
    node: yaml.Node, key_path: KeyPath, key_node: yaml.Node | None = None
) -> Iterator[tuple[KeyPath, yaml.Node, yaml.Node | None]]:
    yield key_path, node, key_node
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            yield from _walk(v, (*key_path, key), k)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*key_path, index))


def format_key_path(key_path: KeyPath) -> str:
    """``("repos", 3, "path")`` → ``repos[3].path``."""
    text = ""
    for part in key_path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
