"""Watchers of nestr's work: metrics, traces, webhooks and the audit trail."""
