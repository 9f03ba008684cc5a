"""YAML documents that remember where every value came from.

Config files and manifests are parsed once into plain Python data plus a map from each value's
path (a tuple of keys and indexes) to its position, so a validation error anywhere later can name
``file:line:col``. Duplicate keys, which YAML silently resolves to the last one, are refused.
Hostile text costs time and memory in proportion to its size: aliases, nesting, integer literals
and the file itself are bounded, and every refusal names its ``file:line:col``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nestr.errors import InputError, SourceLocation
from nestr.inputcache import text_digest

KeyPath = tuple[str | int, ...]

MAX_FILE_BYTES = 32 << 20
"""Largest YAML file read (a manifest of 50,000 repos is about 5 MiB)."""
MAX_ALIAS_NODES = 100_000
"""Values aliases may add to a document beyond what is written ("billion laughs" defence)."""
MAX_DEPTH = 100
"""Deepest nesting of mappings and lists; nothing nestr reads comes near it."""
MAX_INT_DIGITS = 4300
"""Longest integer literal: Python refuses to convert longer ones to and from text."""
_INT_TAG = "tag:yaml.org,2002:int"

try:  # libyaml is ~10x faster when the wheel has it
    _BaseLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, with values Python cannot build reported as YAML errors at their node."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # e.g. the timestamp 2001-13-45
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid value: {exc}", node.start_mark
            ) from None


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
    raw = _read(path, error)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = " ".join(f"0x{byte:02x}" for byte in raw[exc.start : exc.end])
        raise error(
            f"not valid UTF-8: {bad} cannot start or continue a character",
            location=_byte_location(path, raw, exc.start),
            hint="save the file as UTF-8",
        ) from None
    return parse_yaml(text, path, error=error)


def _read(path: Path, error: type[InputError]) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`.

    A FIFO or device (``workflows/ci.yaml -> /dev/zero`` can be committed as a symlink) would
    block or never end: the open does not wait for a writer and such files are refused.
    """
    where = SourceLocation(file=path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise error("file not found", location=where, hint="check the path") from None
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror}", location=where) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error("not a regular file", location=where, hint="name a YAML file")
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise error(f"file too large (over {MAX_FILE_BYTES >> 20} MiB)", location=where)
    return raw


def parse_yaml(text: str, path: Path, *, error: type[InputError] = InputError) -> YamlDocument:
    """Parse ``text`` (named ``path`` in errors) into a :class:`YamlDocument`.

    The node graph is checked before anything is built from it (:class:`_Shape`): aliases,
    nesting and integer literals are bounded, so hostile input costs time and memory in
    proportion to its size.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        shape = _Shape(path, error)
        if node is not None:
            shape.walk(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        raise error(
            f"YAML syntax error: character {_codepoint(exc.character)} is not allowed",
            # libyaml counts bytes of the UTF-8 text (PyYAML's pure reader would count characters)
            location=_byte_location(path, text.encode("utf-8", "surrogatepass"), exc.position),
            hint='remove it, or write it as an escape in a double-quoted string ("\\e")',
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _location(path, mark)
        problem = exc.problem or "invalid YAML"
        raise error(f"YAML syntax error: {problem}", location=where) from None
    except yaml.YAMLError as exc:
        raise error(f"YAML error: {exc}", location=SourceLocation(file=path)) from None
    finally:
        loader.dispose()
    if node is None:  # an empty file: whatever is wrong with it is at its start
        shape.positions[()] = SourceLocation(file=path, line=1, column=1)
    return YamlDocument(
        path=path,
        data=data,
        positions=shape.positions,
        key_positions=shape.key_positions,
        digest=text_digest(text),
    )


def _location(path: Path, mark: Any) -> SourceLocation:
    if mark is None:
        return SourceLocation(file=path)
    return SourceLocation(file=path, line=mark.line + 1, column=mark.column + 1)


def _byte_location(path: Path, raw: bytes, offset: int) -> SourceLocation:
    """``file:line:col`` of byte ``offset`` of ``raw`` (the column counts characters)."""
    start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[start:offset].decode("utf-8", "replace")) + 1
    return SourceLocation(file=path, line=raw.count(b"\n", 0, offset) + 1, column=column)


def _codepoint(character: Any) -> str:
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return f"U+{code:04X}"


_Edge = tuple[KeyPath | None, yaml.Node, yaml.Node]  # child's path (None in a key), child, mark


@dataclass
class _Frame:
    node: yaml.Node
    edges: Iterator[_Edge]
    size: int = 1  # values below this node once aliases are expanded, itself included


class _Shape:
    """One walk over a YAML node graph, before any Python value is built from it.

    Records the position of every value and key, refuses duplicate keys, and bounds what a
    small text can make later code do: each node is entered once (an alias is a second edge to
    it, PyYAML shares the node), the values aliases add are counted against
    :data:`MAX_ALIAS_NODES` because validation, merges (``<<``) and dumping expand them again,
    an alias inside its own anchor is refused (it would make the data contain itself), and so
    are nesting deeper than :data:`MAX_DEPTH` and integers longer than :data:`MAX_INT_DIGITS`.
    The walk is iterative, so deep input cannot exhaust the interpreter's stack either.
    """

    def __init__(self, path: Path, error: type[InputError]) -> None:
        self.path, self.error = path, error
        self.positions: dict[KeyPath, SourceLocation] = {}
        self.key_positions: dict[KeyPath, SourceLocation] = {}
        self.sizes: dict[int, int] = {}  # id(node) -> expanded size, once its walk is done
        self.added = 0  # values added by aliases so far

    def walk(self, root: yaml.Node) -> None:
        self.positions[()] = self.at(root)
        stack = [self.enter(root, ())]
        while stack:
            edge = next(stack[-1].edges, None)
            if edge is None:
                self.leave(stack)
            else:
                self.follow(stack, *edge)

    def leave(self, stack: list[_Frame]) -> None:
        frame = stack.pop()
        self.sizes[id(frame.node)] = frame.size
        if stack:
            stack[-1].size += frame.size

    def follow(
        self, stack: list[_Frame], path: KeyPath | None, child: yaml.Node, mark: yaml.Node
    ) -> None:
        if path is not None:
            self.positions[path] = self.at(child)
        if id(child) in self.sizes:
            stack[-1].size += self.alias(child, mark)
        elif isinstance(child, yaml.ScalarNode):
            self.check_scalar(child)
            self.sizes[id(child)] = 1
            stack[-1].size += 1
        elif any(frame.node is child for frame in stack):
            raise self.error(
                "recursive YAML alias: a value contains itself",
                location=self.at(child),
                hint="an alias (*name) cannot be used inside the value its anchor names",
            )
        elif len(stack) >= MAX_DEPTH:
            raise self.error(
                f"YAML nesting is too deep (more than {MAX_DEPTH} levels)", location=self.at(child)
            )
        else:
            stack.append(self.enter(child, path))

    def alias(self, node: yaml.Node, mark: yaml.Node) -> int:
        """A second edge to ``node``: count what it adds; the size of ``node``."""
        size = self.sizes[id(node)]
        self.added += size
        if self.added > MAX_ALIAS_NODES:
            raise self.error(
                f"YAML alias expands to too many nodes (over {MAX_ALIAS_NODES:,} in all)",
                location=self.at(mark),
                hint="write the values out, or repeat them with fewer aliases (*name)",
            )
        return size

    def enter(self, node: yaml.Node, path: KeyPath | None) -> _Frame:
        if isinstance(node, yaml.ScalarNode):
            self.check_scalar(node)
        return _Frame(node, self.edges(node, path))

    def edges(self, node: yaml.Node, path: KeyPath | None) -> Iterator[_Edge]:
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                yield (None if path is None else (*path, index)), item, node
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):  # refused when built (unhashable)
                    yield None, key, key
                    yield None, value, key
                    continue
                self.check_scalar(key)
                child = None if path is None else (*path, key.value)
                if child is not None:
                    self.record_key(child, key)
                yield child, value, key

    def record_key(self, key_path: KeyPath, key: yaml.Node) -> None:
        loc = self.at(key)
        if key_path in self.key_positions:
            raise self.error(
                f"duplicate key {key_path[-1]!r}",
                location=loc,
                hint=f"it is already set at line {self.key_positions[key_path].line}",
            )
        self.key_positions[key_path] = loc

    def check_scalar(self, node: yaml.ScalarNode) -> None:
        if node.tag == _INT_TAG and len(node.value) > MAX_INT_DIGITS:
            raise self.error(
                f"integer too large ({len(node.value):,} characters; at most {MAX_INT_DIGITS:,})",
                location=self.at(node),
                hint="quote it if it is meant as text",
            )

    def at(self, node: yaml.Node) -> SourceLocation:
        return _location(self.path, node.start_mark)


def format_key_path(key_path: KeyPath) -> str:
    """``("repos", 3, "path")`` → ``repos[3].path``; a key with unprintable characters in quotes."""
    text = ""
    for part in key_path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = str(part) if str(part).isprintable() else repr(part)
            text += f".{name}" if text else name
    return text
