"""Webhooks: events delivered to HTTP endpoints as signed CloudEvents, at least once.

``signing`` makes the Standard Webhooks headers, ``outbox`` keeps the durable queue in the
store, ``policy`` decides what an answer means (pure), ``sender`` POSTs one request, and
``dispatcher`` ties them together: it follows the event log, fills the outbox and delivers
it per endpoint in ``seq`` order. See docs/webhooks.md.
"""
