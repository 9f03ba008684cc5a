"""Subscribers of the event log: Prometheus metrics, traces, webhooks, the audit trail.

Each watcher lives in modules of its own (``metrics*.py`` for Prometheus) and is imported only by
the face that turns it on, so a watcher that is off costs no import (``prometheus_client`` loads
only when ``metrics.listen`` is set).
"""
