"""The session a call acts with: the server's, in the call's correlation."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from nestr.observability.context import current_correlation_id

if TYPE_CHECKING:
    from nestr.session import Session


def acting_session(session: Session) -> Session:
    """``session`` acting in this call's correlation, so that the work's events, logs and
    processes carry the id the client sent (or the one made for the call), not the server's.
    A shallow copy: it shares the session's store and bus, opened first."""
    cid = current_correlation_id()
    if cid is None or cid == session.correlation_id:
        return session
    session.bus  # noqa: B018 -- opened here, so the copy shares it
    acting = copy.copy(session)
    acting.correlation_id = cid
    return acting
