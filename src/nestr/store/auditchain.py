"""Checking the audit trail's hash chain: the first record that breaks it, and how.

Records are read in ``seq`` order and each must (1) have the ``seq`` one after the record before
it (the first: 1) — else records are missing: **deleted**; (2) carry the hash of its own
canonical form — else it was changed: **reordered** when its hash is the one it would carry at
another ``seq`` (its ``seq`` was rewritten), **edited** otherwise; (3) chain to the record before
it (``prev`` equals that record's hash) — else that record was **edited** and given a new hash.

What no chain can show is the removal of the newest records: keep the head that ``nestr audit
verify`` prints somewhere else and compare.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any, Literal

from nestr.store.audit import GENESIS, SELECT, AuditRecord, digest, highest_seq, record_of

Damage = Literal["edited", "deleted", "reordered"]


@dataclass(frozen=True)
class Break:
    """The first bad record: its ``seq``, what happened to it, in words."""

    seq: int
    damage: Damage
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChainReport:
    """How many records were checked, the head (last seq and hash), the first break if any."""

    records: int
    head_seq: int
    head_hash: str
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def to_dict(self) -> dict[str, Any]:
        """The report as ``nestr audit verify --json`` prints it."""
        return {
            "ok": self.ok,
            "records": self.records,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "broken": None if self.broken is None else self.broken.to_dict(),
        }


def verify_chain(conn: sqlite3.Connection, *, kept: tuple[int, str] | None = None) -> ChainReport:
    """Check every record of the trail in ``seq`` order; stop at the first break. ``kept``: a
    head (seq, hash) reported earlier, which must still be there."""
    records = [record_of(row) for row in conn.execute(SELECT + " ORDER BY seq")]
    seqs = [r.seq for r in records]
    head_seq, head_hash = 0, GENESIS
    for before, record in zip([None, *records], records, strict=False):
        broken = _check(before, record, seqs)
        if broken is not None:
            return ChainReport(len(records), head_seq, head_hash, broken)
        head_seq, head_hash = record.seq, record.hash
    broken = _tail(head_seq, highest_seq(conn)) or _kept(kept, records)
    return ChainReport(len(records), head_seq, head_hash, broken)


def _tail(head: int, highest: int) -> Break | None:
    """Records removed from the end: the store numbered records after the last one there."""
    if highest <= head:
        return None
    missing = f"{head + 1}" if highest == head + 1 else f"{head + 1}-{highest}"
    return Break(head + 1, "deleted", f"record {missing} missing at the end")


def _kept(kept: tuple[int, str] | None, records: list[AuditRecord]) -> Break | None:
    """``kept`` (a head reported earlier) against the records: still there, same hash."""
    if kept is None:
        return None
    seq, hash_ = kept
    found = next((r for r in records if r.seq == seq), None)
    if found is None:
        return Break(seq, "deleted", f"record {seq} of the head you kept is missing")
    if found.hash != hash_:
        detail = f"record {seq} no longer has the hash you kept: the trail was rewritten"
        return Break(seq, "edited", detail)
    return None


def _check(before: AuditRecord | None, record: AuditRecord, seqs: list[int]) -> Break | None:
    expected = 1 if before is None else before.seq + 1
    if record.seq != expected:
        missing = f"{expected}" if record.seq == expected + 1 else f"{expected}-{record.seq - 1}"
        return Break(expected, "deleted", f"record {missing} missing before record {record.seq}")
    if digest(record.to_dict()) != record.hash:
        return _changed(record, seqs)
    if before is None and record.prev != GENESIS:
        return Break(record.seq, "edited", f"record {record.seq} chains to a record before it")
    if before is not None and record.prev != before.hash:
        return Break(
            before.seq,
            "edited",
            f"record {before.seq} does not hash to what record {record.seq} chained to "
            "(changed and given a new hash)",
        )
    return None


def _changed(record: AuditRecord, seqs: list[int]) -> Break:
    """``record`` does not hash to its ``hash``: was it moved from another ``seq``?"""
    fields = record.to_dict()
    for seq in range(1, max(seqs) + 2):
        if seq != record.seq and digest({**fields, "seq": seq}) == record.hash:
            detail = f"record {record.seq} holds record {seq} (its seq was rewritten)"
            return Break(record.seq, "reordered", detail)
    return Break(record.seq, "edited", f"record {record.seq} does not match its hash")
