"""Event subscribers: metrics, traces, webhooks and the audit trail, each fed by the event log."""
