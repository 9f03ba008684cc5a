"""The library layer every face builds: settings, store, durable event bus, correlation id, and
the operations (assemble, lock, status, foreach, sync, run/resume/cancel, queries).

Importing it is cheap: the store, git and the domain packages load inside the operations.
"""

from nestr.session.session import Session
from nestr.session.targets import AssemblyTarget, RunTarget, Target

__all__ = ["AssemblyTarget", "RunTarget", "Session", "Target"]
