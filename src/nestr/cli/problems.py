"""Rendering of a :class:`~nestr.checking.ValidationReport` for the ``validate`` commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from nestr.checking import ValidationReport
from nestr.cli.errors import report
from nestr.cli.render import print_json
from nestr.errors import EXIT_OK, EXIT_USAGE, UsageError


def validate_with(
    check: Callable[[Path], ValidationReport], resolve: Callable[[], Path]
) -> ValidationReport:
    """Run ``check`` on the manifest ``resolve`` finds; no manifest found is a problem too."""
    try:
        path = resolve()
    except UsageError as exc:
        return ValidationReport(manifest=None, errors=(exc,))
    return check(path)


def show(result: ValidationReport, *, as_json: bool, summary: str) -> int:
    """Print ``result`` (JSON on stdout, or problems on stderr) and return the exit code.

    Valid: ``summary`` on stdout, exit 0. Invalid: each problem with its hint, then a count,
    exit 2.
    """
    if as_json:
        print_json(result.to_dict())
    elif result.valid:
        click.echo(summary)
    else:
        for error in result.errors:
            report(error)
        count = len(result.errors)
        click.echo(f"{count} problem{'s' if count != 1 else ''} found", err=True)
    return EXIT_OK if result.valid else EXIT_USAGE
