"""The store's tables. Each entry of ``MIGRATIONS`` moves ``user_version`` up by one; never edit
a released entry, append a new one."""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            workflow TEXT NOT NULL,
            status TEXT NOT NULL,
            definition TEXT NOT NULL,
            inputs TEXT NOT NULL,
            context TEXT NOT NULL,
            created REAL NOT NULL,
            finished REAL,
            owner_pid INTEGER,
            owner_host TEXT,
            heartbeat REAL,
            cancel_requested REAL,
            resumes INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE steps (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            step_id TEXT NOT NULL,
            repo TEXT,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            started REAL,
            finished REAL,
            exit_code INTEGER,
            error TEXT,
            outputs TEXT,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE attempts (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            status TEXT NOT NULL,
            started REAL NOT NULL,
            finished REAL,
            exit_code INTEGER,
            error TEXT,
            PRIMARY KEY (run_id, key, attempt)
        ) WITHOUT ROWID""",
        """CREATE TABLE logs (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            stream TEXT NOT NULL,
            text TEXT NOT NULL,
            truncated INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, key, attempt, stream)
        ) WITHOUT ROWID""",
        # seq is the rowid, not AUTOINCREMENT-ed: gap-free because only the oldest rows are
        # ever deleted, never the newest (nestr.store.eventprune)
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            type TEXT NOT NULL,
            run_id TEXT,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX events_by_run ON events (run_id, seq) WHERE run_id IS NOT NULL",
        "CREATE INDEX runs_by_created ON runs (created)",
    ],
    [
        # the process groups attempts started (see nestr.store.groups)
        """CREATE TABLE processes (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            pgid INTEGER NOT NULL,
            start INTEGER NOT NULL,
            boot TEXT NOT NULL,
            PRIMARY KEY (run_id, key, attempt, pgid, start)
        ) WITHOUT ROWID""",
    ],
    [
        # the audit trail (nestr.store.audit): append-only, each row hash-chained to the one
        # before; the writer assigns seq inside its BEGIN IMMEDIATE transaction, after the
        # highest ever used (AUTOINCREMENT keeps it in sqlite_sequence: a deleted tail shows)
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            time TEXT NOT NULL,
            actor TEXT NOT NULL,
            face TEXT NOT NULL,
            peer TEXT,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            outcome TEXT NOT NULL,
            error TEXT,
            correlation_id TEXT,
            prev TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        "CREATE INDEX audit_by_time ON audit (time)",
    ],
    [
        # webhooks (nestr.watchers.webhooks): per endpoint, the last event seq looked at (every
        # matching event up to it is in the outbox) and whether a 410 Gone disabled it
        """CREATE TABLE webhook_endpoints (
            name TEXT PRIMARY KEY,
            cursor INTEGER NOT NULL,
            disabled REAL,
            disabled_url_sha256 TEXT,
            disabled_reason TEXT
        )""",
        # the outbox: one row per event and endpoint, sent in event_seq order per endpoint; the
        # body is kept, so a pruned event is still delivered, the same bytes on every try
        """CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY,
            endpoint TEXT NOT NULL,
            event_seq INTEGER NOT NULL,
            event_type TEXT NOT NULL,
            webhook_id TEXT NOT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL NOT NULL,
            created REAL NOT NULL,
            finished REAL,
            http_status INTEGER,
            error TEXT,
            UNIQUE (endpoint, event_seq)
        )""",
        "CREATE INDEX webhook_pending ON webhook_deliveries (endpoint, event_seq)"
        " WHERE status = 'pending'",
    ],
    [
        # compensation of a failed or cancelled run (nestr.workflow.saga): NULL when none ran,
        # else running|succeeded|failed|cancelled; outcome is the status the run's steps gave
        # it, kept while its compensations run (the run stays 'running' meanwhile)
        "ALTER TABLE runs ADD COLUMN compensation TEXT",
        "ALTER TABLE runs ADD COLUMN outcome TEXT",
    ],
    [
        # the ids of events other processes published into this log (nestr.store.eventintake),
        # by the seq each got here: an id already there is not stored again; pruned with them
        "CREATE TABLE received_events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE)",
    ],
]
