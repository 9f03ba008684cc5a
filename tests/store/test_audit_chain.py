"""The audit trail's canonical form, hash chain and check, on a real SQLite store."""

from __future__ import annotations

import hashlib
from pathlib import Path

from nestr.store.audit import GENESIS, AuditEntry, append_record, canonical, select_records
from nestr.store.auditchain import verify_chain
from nestr.store.db import open_database


def test_the_canonical_form_is_the_documented_one() -> None:
    """Keys sorted (also inside target), no whitespace, non-ASCII as itself, control characters
    escaped: the bytes docs/audit.md describes, and the hash is their SHA-256."""
    fields = {"seq": 1, "time": "t", "target": {"b": [1, None], "a": "é\n"}, "peer": None}
    expected = '{"peer":null,"seq":1,"target":{"a":"é\\n","b":[1,null]},"time":"t"}'
    assert canonical({**fields, "hash": "ignored"}) == expected.encode("utf-8")


def test_records_chain_from_the_genesis_hash(tmp_path: Path) -> None:
    """The first record's prev is 64 zeros, each later one's the hash before it, and each hash
    is the SHA-256 of the record's canonical form; the check passes and reports the head."""
    with open_database(tmp_path) as db:
        for n in range(3):
            entry = AuditEntry("alice@host", "cli", "lock", {"n": n}, "ok", correlation_id="c")
            with db.transaction() as conn:
                append_record(conn, entry)
        with db.reading() as conn:
            found = select_records(conn)
            report = verify_chain(conn)
    assert [r.prev for r in found] == [GENESIS, found[0].hash, found[1].hash]
    for record in found:
        assert record.hash == hashlib.sha256(canonical(record.to_dict())).hexdigest()
    assert (report.ok, report.records, report.head_seq, report.head_hash) == (
        True,
        3,
        3,
        found[2].hash,
    )


def test_an_empty_trail_verifies(tmp_path: Path) -> None:
    """No records: the chain holds, and the head is seq 0 with the genesis hash."""
    with open_database(tmp_path) as db, db.reading() as conn:
        report = verify_chain(conn)
    assert report.to_dict() == {
        "ok": True,
        "records": 0,
        "head": {"seq": 0, "hash": GENESIS},
        "broken": None,
    }


def test_a_target_that_is_no_longer_json_is_an_edit(tmp_path: Path) -> None:
    """A target column overwritten with text that is not JSON makes that record ``edited``."""
    with open_database(tmp_path) as db:
        with db.transaction() as conn:
            append_record(conn, AuditEntry("a@h", "cli", "lock", {"x": 1}, "ok"))
            conn.execute("UPDATE audit SET target = 'not json' WHERE seq = 1")
        with db.reading() as conn:
            broken = verify_chain(conn).broken
    assert broken is not None
    assert (broken.seq, broken.damage) == (1, "edited")
