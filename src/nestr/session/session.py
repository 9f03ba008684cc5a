"""The session: settings, store, durable event bus and correlation id, and the operations.

Every face builds one :class:`Session` from the loaded config and calls its operations with
explicit keyword arguments; the session finds the manifest and workspace (one rule,
:mod:`nestr.workspace.locate`), runs the operation inside the action's correlation, publishes
its events on a bus over the durable log, and returns the library's result for the face to
render. It never prints.

The store and the bus are opened on first use, so an action that emits nothing (``status``,
``runs list``) never pays for the event log, and once, so a long-lived face (the server) keeps
one connection. :meth:`Session.close` (or ``with``) closes them.
"""

from __future__ import annotations

from nestr.session.runs import RunOperations
from nestr.session.workspaces import WorkspaceOperations


class Session(WorkspaceOperations, RunOperations):
    """One face's connection to nestr: settings, lazily opened store and durable bus, and every
    operation (see :class:`WorkspaceOperations` and :class:`RunOperations`)."""
