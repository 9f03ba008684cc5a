"""Every error nestr raises on purpose, with the exit code the CLI maps it to.

::

    NestrError                      exit 1  -- base: message + optional hint
    ├── InputError                  exit 2  -- bad input; may carry a SourceLocation
    │   ├── ConfigError                      -- a setting is wrong (file, env var, flag)
    │   ├── ManifestError                    -- nestr.yaml or an imported manifest is wrong
    │   ├── WorkflowDefinitionError          -- a workflow definition is wrong
    │   └── UsageError                       -- a command line that cannot work
    │       └── NotFound                     -- it names a run, workflow or step that does not exist
    ├── WorkFailed                  exit 1  -- the work ran and failed (a step, a clone)
    │   └── GitError                         -- a git command failed; shows argv, code, stderr
    ├── ConflictsLeft               exit 3  -- conflicts were left for the user (sync)
    └── Interrupted                 exit 130 -- Ctrl-C, SIGTERM or a cancelled run

Low-level exceptions are translated into one of these at the seam where nestr knows what the user
should do about them; the CLI's top-level handler prints ``message`` and ``hint`` and exits with
``exit_code``. Nothing in this module imports anything beyond the standard library (and
:mod:`nestr.redaction`, which does not either), so every layer may raise these errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nestr.redaction import redact_url

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFLICTS = 3
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class SourceLocation:
    """Where a bad value came from: a file position, an environment variable or a flag."""

    file: Path | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    origin: str | None = None  # e.g. "env NESTR_LOG__LEVEL", "flag --set", "default"

    def __str__(self) -> str:
        if self.file is None:
            return self.origin or "<unknown>"
        text = _display_path(self.file)
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


def _display_path(path: Path) -> str:
    """Show a path relative to the working directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class NestrError(Exception):
    """Base of every error nestr raises on purpose: a message for people, a hint, an exit code."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # Messages quote URLs and commands; a password in a URL must not reach the screen,
        # a log, an event or a crash log.
        message = redact_url(message)
        super().__init__(message)
        self.message = message
        self.hint = None if hint is None else redact_url(hint)

    def __str__(self) -> str:
        return self.message


class InputError(NestrError):
    """Input nestr cannot use: names where it came from and the field that is wrong."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.location = location
        self.field = field
        parts = [str(location)] if location is not None else []
        if field:
            parts.append(field)
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message, hint=hint)
        self.detail = redact_url(message)


class ConfigError(InputError):
    """A configuration value, file or environment variable is wrong."""


class ManifestError(InputError):
    """A manifest (nestr.yaml, an import, or a foreign manifest being imported) is wrong."""


class WorkflowDefinitionError(InputError):
    """A workflow definition is wrong (unknown step, cycle, bad expression, ...)."""


class UsageError(InputError):
    """The command line asks for something that cannot work."""


class NotFound(UsageError):
    """The command line names a run, workflow or step that does not exist (the server answers
    NOT_FOUND instead of INVALID_ARGUMENT); ``kind`` (``run``, ``step``…) and ``name`` say
    what was looked for, for a client to act on (the server's ``google.rpc.ResourceInfo``)."""

    def __init__(
        self, message: str, *, kind: str = "", name: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind, self.name = kind, name


class MultipleInputErrors(InputError):
    """Several input errors found in one pass, reported together, each with its own hint.

    ``errors`` holds single errors (nested groups are flattened), duplicates dropped, sorted by
    position (:func:`by_position`), so every command shows the same problem first.
    """

    def __init__(self, errors: Sequence[InputError]) -> None:
        self.errors = by_position(errors)
        super().__init__("several problems")
        self.message = "\n".join(
            e.message + (f"\n  hint: {e.hint}" if e.hint else "") for e in self.errors
        )
        self.detail = self.message


def each_error(error: InputError) -> list[InputError]:
    """The single errors inside ``error`` (itself, or those a MultipleInputErrors holds)."""
    if isinstance(error, MultipleInputErrors):
        return [e for inner in error.errors for e in each_error(inner)]
    return [error]


def by_position(errors: Sequence[InputError]) -> list[InputError]:
    """Single errors, duplicates dropped, ordered by file (in order of first mention), line, column.

    Errors without a line come first in their file, so the same input always produces the same
    list and the first error of a file is the first problem in it.
    """
    unique: dict[tuple[SourceLocation, str | None, str], InputError] = {}
    for error in (e for item in errors for e in each_error(item)):
        unique.setdefault((error.location or SourceLocation(), error.field, error.detail), error)
    files: dict[Path | str | None, int] = {}
    for where, _, _ in unique:
        files.setdefault(where.file or where.origin, len(files))

    def order(key: tuple[SourceLocation, str | None, str]) -> tuple[int, int, int]:
        where = key[0]
        return files[where.file or where.origin], where.line or 0, where.column or 0

    return [unique[key] for key in sorted(unique, key=order)]


class WorkFailed(NestrError):
    """The work itself ran and failed: a step, a clone, a command in a repo."""


class GitError(WorkFailed):
    """A git command failed. The message shows the command, its exit code and stderr."""

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int | None,
        stderr: str,
        *,
        cwd: Path | None = None,
        hint: str | None = None,
    ) -> None:
        self.argv = [redact_url(arg) for arg in argv]
        self.returncode = returncode
        self.stderr = redact_url(stderr)
        self.cwd = cwd
        status = "timed out" if returncode is None else f"exited {returncode}"
        where = f" in {cwd}" if cwd else ""
        detail = self.stderr.strip().splitlines()
        tail = "\n".join(f"  {line}" for line in detail[-10:])
        message = f"`{' '.join(self.argv)}`{where} {status}"
        if tail:
            message += f":\n{tail}"
        super().__init__(message, hint=hint)


class ConflictsLeft(NestrError):
    """The work finished but left conflicts for the user to resolve."""

    exit_code = EXIT_CONFLICTS


class Interrupted(NestrError):
    """The user or a signal stopped the work."""

    exit_code = EXIT_INTERRUPTED


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """Return a hint naming the closest choice, or None when nothing is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
