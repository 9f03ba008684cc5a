"""The terminal UI (``nestr ui``): a Textual app fed by the event stream, local or remote.

It reads events and the query APIs only (see :mod:`nestr.tui.source`) and knows nothing of how
events are produced. Textual is imported only here, when ``nestr ui`` runs.
"""
