"""The one process-group runner: start, stream, time out, kill the group, leave no orphans.

Everything nestr starts runs in a process group of its own and is ended as a group: workflow
steps and ``nestr foreach`` commands through :class:`nestr.proc.group.GroupRunner`, git through
its own blocking runner (:mod:`nestr.git.runner`), which signals groups through
:mod:`nestr.proc.groups` too. :mod:`nestr.proc.groups` also has every group ended when nestr
dies, even by SIGKILL (a helper process, :mod:`nestr.proc._guardian`).

This package knows nothing of what a process is for: it imports neither ``workflow`` nor
``workspace``; they import it. Nothing is imported here, so ``nestr.proc.groups`` stays cheap
for callers that need no event loop.
"""
