"""``nestr audit``: list the audit trail, and verify its hash chain (docs/audit.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from nestr.cli.context import local_session
from nestr.cli.options import parse_duration_flag
from nestr.cli.render import json_option, print_json
from nestr.errors import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from nestr.session.audit import AuditRecord


@click.group()
def audit() -> None:
    """Who did what: list the audit trail, verify it was not altered."""


def parse_since(text: str) -> str:
    """The record time ``--since`` means: a duration back from now (``90m``, ``2d``) or a time
    (ISO 8601; without a zone it is local time)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = datetime.now(UTC) - timedelta(seconds=parse_duration_flag(text, flag="--since"))
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@audit.command(name="list")
@click.option(
    "--since", metavar="DURATION|TIME", help="Only records from then on (2h, 2026-12-01)."
)
@click.option("--action", "action_prefix", metavar="PREFIX", help="Only actions starting so.")
@json_option
@click.pass_context
def list_(ctx: click.Context, since: str | None, action_prefix: str | None, as_json: bool) -> int:
    """Print the records oldest first (--json: an array of records)."""
    start = None if since is None else parse_since(since)
    records = local_session(ctx, only_here=True).audit_records(
        since=start, action_prefix=action_prefix
    )
    if as_json:
        print_json([record.to_dict() for record in records])
        return EXIT_OK
    for record in records:
        click.echo(_line(record))
    return EXIT_OK


def _line(record: AuditRecord) -> str:
    outcome = record.outcome if record.error is None else f"{record.outcome} ({record.error})"
    target = " ".join(f"{k}={v}" for k, v in sorted(record.target.items()) if v not in (None, []))
    peer = "" if record.peer is None else f" from {record.peer}"
    return (
        f"{record.seq:>6} {record.time[:19]}Z {record.action:<18} {outcome:<8} "
        f"{record.actor}{peer} {target}"
    )


def parse_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH``, a head ``nestr audit verify`` printed."""
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or re.fullmatch(r"[0-9a-f]{64}", digest) is None:
        raise click.BadParameter(
            f"expected SEQ:HASH (a number, a colon, 64 hex digits); got {text!r}",
            param_hint="--head",
        )
    return int(seq), digest


@audit.command()
@click.option(
    "--head",
    "kept",
    metavar="SEQ:HASH",
    help="A head verify printed earlier: fail unless record SEQ still has HASH.",
)
@json_option
@click.pass_context
def verify(ctx: click.Context, kept: str | None, as_json: bool) -> int:
    """Check the hash chain; exit 1 naming the first bad record."""
    head = None if kept is None else parse_head(kept)
    report = local_session(ctx, only_here=True).verify_audit(kept=head)
    if as_json:
        print_json(report.to_dict())
    elif report.broken is None:
        click.echo(f"ok: {report.records} records; head {report.head_seq}:{report.head_hash}")
    else:
        broken = report.broken
        click.echo(f"record {broken.seq}: {broken.damage}: {broken.detail}", err=True)
        click.echo(f"the chain holds up to record {report.head_seq}", err=True)
    return EXIT_OK if report.ok else EXIT_FAILED
