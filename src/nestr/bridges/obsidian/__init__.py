"""The Obsidian bridge: notes in a vault, written so a person's edits survive.

:mod:`.vault` keeps every write inside the vault and inside nestr's managed block;
:mod:`.runnotes` renders a run as notes (pure); :mod:`.journal` writes a run's note, its repos'
notes and the daily note; :mod:`.step` is the ``obsidian.note`` step; :mod:`.watch` turns
``run.finished`` events into run notes.
"""
