"""nestr on Temporal: the same workflows, durable across machines.

A face over the workflow engine (like the CLI and the server): ``executor`` submits a run to a
Temporal cluster, ``interpreter`` is the Temporal workflow that drives the run's pure
``nestr.workflow.schedule.Schedule`` from its history, ``activities`` runs one step instance
on a worker, ``worker`` is ``nestr worker``. Nothing here is imported unless a run uses
``executor: temporal`` or a worker starts; the ``temporal`` executor reaches the engine's
registry through the ``nestr.executors`` entry point (see ``docs/development.md``).
"""
