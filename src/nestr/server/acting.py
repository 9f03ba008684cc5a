"""The session a call acts with: the server's, in the call's correlation, as its caller."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from nestr.observability.context import current_correlation_id
from nestr.server.callers import current_caller

if TYPE_CHECKING:
    from nestr.session import Session


def acting_session(session: Session) -> Session:
    """``session`` acting in this call's correlation, so that the work's events, logs and
    processes carry the id the client sent (or the one made for the call), not the server's,
    and as the call's caller, whom its audit records name. A shallow copy: it shares the
    session's store and bus, opened first."""
    cid = current_correlation_id() or session.correlation_id
    actor = current_caller() or session.actor
    if cid == session.correlation_id and actor == session.actor:
        return session
    session.bus  # noqa: B018 -- opened here, so the copy shares it
    acting = copy.copy(session)
    acting.correlation_id, acting.actor = cid, actor
    return acting
