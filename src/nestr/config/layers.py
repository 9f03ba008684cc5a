"""Where settings come from, in order, each value remembering its origin.

Layers, later wins, mappings merged deeply::

    defaults < /etc/nestr/config.yaml < $XDG_CONFIG_HOME/nestr/config.yaml
             < nestr.config.yaml (found upward from the working directory) < each --config FILE
             < nestr.<env>.yaml beside each of those files (with --env / NESTR_ENV)
             < secrets dir (NESTR_SECRETS_DIR) < NESTR_* environment variables < --set flags
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nestr.errors import ConfigError, SourceLocation, did_you_mean

if TYPE_CHECKING:  # yamlsource imports PyYAML, which a cached load never needs
    from nestr.yamlsource import KeyPath, YamlDocument

PROJECT_FILE = "nestr.config.yaml"
ENV_PREFIX = "NESTR_"
# NESTR_* variables that are not settings: selectors of the loader itself, and what nestr sets
# for the processes it starts (a `nestr` run inside `nestr foreach` must not trip over them).
RESERVED_ENV = frozenset(
    {
        "NESTR_ENV",
        "NESTR_SECRETS_DIR",
        "NESTR_DEBUG",
        "NESTR_OUTPUT",
        "NESTR_WORKSPACE",
        "NESTR_RUN_ID",
        "NESTR_STEP_ID",
        "NESTR_MANIFEST",
        "NESTR_NO_INPUT_CACHE",
        "NESTR_GUARD",
        "NESTR_CORRELATION_ID",
    }
)
# The reserved variables that do change what the loader reads.
LOADER_ENV = frozenset({"NESTR_ENV", "NESTR_SECRETS_DIR"})
RESERVED_ENV_PREFIXES = ("NESTR_REPO_", "NESTR_PLUGIN_")  # NESTR_PLUGIN_*: a plugin's start


@dataclass(frozen=True)
class Origin:
    """Where one value came from; ``str()`` is what ``config show --origin`` prints."""

    kind: str  # default | file | secret-file | env | flag
    location: SourceLocation = field(default_factory=SourceLocation)

    def __str__(self) -> str:
        if self.kind == "default":
            return "default"
        if self.kind in {"file", "secret-file"}:
            loc = self.location
            line = f":{loc.line}" if loc.line is not None else ""
            return f"{loc.file}{line}"
        return self.location.origin or self.kind


@dataclass(frozen=True)
class Value:
    """A raw (not yet validated) setting and where it came from."""

    raw: Any
    origin: Origin


@dataclass(frozen=True)
class LayerInputs:
    """Everything outside the files that decides which layers load."""

    cwd: Path
    environ: Mapping[str, str]
    config_files: Sequence[Path] = ()
    env_name: str | None = None
    sets: Sequence[str] = ()
    flag_values: Mapping[str, tuple[Any, str]] = field(default_factory=dict)
    system_dir: Path = Path("/etc/nestr")


def find_project_file(start: Path) -> Path | None:
    """The nearest ``nestr.config.yaml`` in ``start`` or a parent directory."""
    from nestr.upward import find_upward

    return find_upward(start, PROJECT_FILE)


def config_files(inputs: LayerInputs) -> list[tuple[Path, bool]]:
    """Files to read, in order, each with whether it must exist."""
    xdg = inputs.environ.get("XDG_CONFIG_HOME") or str(
        Path(inputs.environ.get("HOME", "~")) / ".config"
    )
    files: list[tuple[Path, bool]] = [
        (inputs.system_dir / "config.yaml", False),
        (Path(xdg).expanduser() / "nestr" / "config.yaml", False),
    ]
    project = find_project_file(inputs.cwd)
    if project is not None:
        files.append((project, False))
    files.extend(((inputs.cwd / f).resolve(), True) for f in inputs.config_files)
    env_name = inputs.env_name or inputs.environ.get("NESTR_ENV") or None
    if env_name:
        seen: set[Path] = set()
        overlays = []
        for path, _ in files:
            overlay = path.parent / f"nestr.{env_name}.yaml"
            if overlay not in seen:
                seen.add(overlay)
                overlays.append((overlay, False))
        files.extend(overlays)
    return files


def flatten_file(doc: YamlDocument) -> Iterator[tuple[KeyPath, Value]]:
    """Leaf values of a config file with their ``file:line:col`` origin."""
    if doc.data is None:
        return
    if not isinstance(doc.data, dict):
        raise ConfigError(
            "a config file must be a mapping of settings",
            location=doc.locate(()),
            hint="write `key: value` lines, e.g. `jobs: 8`",
        )
    yield from _leaves(doc.data, (), doc)


def _leaves(
    data: dict[str, Any], prefix: KeyPath, doc: YamlDocument
) -> Iterator[tuple[KeyPath, Value]]:
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value:
            yield from _leaves(value, path, doc)
        else:
            yield path, Value(value, Origin("file", doc.locate(path)))


def env_values(
    environ: Mapping[str, str], known: set[str], named: Callable[[str], bool] = lambda _: False
) -> Iterator[tuple[KeyPath, Value]]:
    """``NESTR_LOG__LEVEL=debug`` → ``("log", "level")``; unknown variables are errors.

    ``named`` accepts keys of entries the user names (``git.credentials.<name>.token``), which
    no fixed list holds: their variable, lower-cased, is the key.
    """
    env_names = {ENV_PREFIX + k.upper().replace(".", "__"): k for k in known}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        if name.startswith(RESERVED_ENV_PREFIXES):
            continue
        dotted = env_names.get(name) or _named_key(name, named)
        shown = name if name.isprintable() else repr(name)  # no raw control characters
        origin = f"env {shown}"
        if dotted is None:
            hint = did_you_mean(name, list(env_names))
            raise ConfigError(
                f"unknown setting variable {shown}",
                location=SourceLocation(origin=origin),
                hint=hint or "see `nestr config show` for the settings that exist",
            )
        yield tuple(dotted.split(".")), Value(raw, Origin("env", SourceLocation(origin=origin)))


def _named_key(name: str, named: Callable[[str], bool]) -> str | None:
    dotted = name.removeprefix(ENV_PREFIX).lower().replace("__", ".")
    return dotted if named(dotted) else None


def set_values(
    sets: Sequence[str], known: set[str], named: Callable[[str], bool] = lambda _: False
) -> Iterator[tuple[KeyPath, Value]]:
    """``--set log.level=debug`` flags."""
    for item in sets:
        key, sep, raw = item.partition("=")
        key = key.strip()
        origin = "flag --set"
        if not sep or not key:
            raise ConfigError(
                f"--set expects KEY=VALUE, got {item!r}",
                location=SourceLocation(origin="flag --set"),
                hint="for example: --set log.level=debug",
            )
        if key not in known and not named(key):
            raise ConfigError(
                f"unknown setting {key!r}",
                location=SourceLocation(origin=origin),
                hint=did_you_mean(key, sorted(known)) or "see `nestr config show`",
            )
        yield tuple(key.split(".")), Value(raw, Origin("flag", SourceLocation(origin=origin)))


def secrets_dir_values(
    environ: Mapping[str, str],
    secret_keys: frozenset[str],
    named: Callable[[str], bool] = lambda _: False,
) -> Iterator[tuple[KeyPath, Value]]:
    """Secrets from files in ``NESTR_SECRETS_DIR`` named ``server.token`` or ``server__token``.

    A file whose name ``named`` accepts as a secret key is read too (``git.credentials.*.token``
    keys are named by the user, so the directory is listed for them).
    """
    directory = environ.get("NESTR_SECRETS_DIR")
    if not directory:
        return
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(
            f"NESTR_SECRETS_DIR is not a directory: {root}",
            location=SourceLocation(origin="env NESTR_SECRETS_DIR"),
        )
    listed = sorted(p.name.replace("__", ".") for p in root.iterdir() if not p.name.startswith("."))
    for key in sorted(secret_keys | {k for k in listed if named(k)}):
        for name in (key, key.replace(".", "__")):
            path = root / name
            if path.is_file():
                yield (
                    tuple(key.split(".")),
                    Value(
                        read_secret(path, key, SourceLocation(origin="env NESTR_SECRETS_DIR")),
                        Origin("secret-file", SourceLocation(file=path)),
                    ),
                )
                break


def read_secret(path: Path, key: str, origin: SourceLocation) -> str:
    """A secret's value from a file (trailing newline stripped); ``origin`` names the file."""
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8"
        raise ConfigError(
            f"cannot read the secret file {str(path)!r}: {reason}",
            location=origin,
            field=key,
            hint="check the path and its permissions",
        ) from None
