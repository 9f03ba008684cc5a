"""The Ollama bridge: ``ollama.generate`` and ``ollama.chat`` over the official ``ollama``
client (:mod:`.step`), streaming the model's text into the step's log and progress events."""
