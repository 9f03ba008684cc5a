"""Bridges from nestr to other tools: an Obsidian vault (:mod:`.obsidian`) and a local Ollama
model (:mod:`.ollama`).

Each bridge is a library whose steps are plain async functions of a step's ``with:`` values
and a :class:`~nestr.bridges.context.BridgeContext` (log, emit, what earlier steps left), so
the same logic runs in-process through the ``nestr.steps`` entry points
(:mod:`nestr.bridges.steps`) or behind an out-of-process plugin's thin adapter.
"""
