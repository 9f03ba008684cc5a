"""Load the configuration: from the input cache when its inputs are unchanged, else in full.

The full path (``nestr.config.build``: PyYAML, pydantic, every layer) runs only on a miss; a hit
builds the settings from the cached JSON. Either way the result, its origins and its files are
the same. See ``nestr.config.cache`` for what an entry depends on.
"""

from __future__ import annotations

from nestr.config.cache import Probe, cacheable
from nestr.config.layers import LayerInputs
from nestr.config.loaded import LoadedConfig, display_value
from nestr.config.settings import LEAF_KEYS, PATH_KEYS, SECTION_KEYS, known_keys

__all__ = [
    "LEAF_KEYS",
    "PATH_KEYS",
    "SECTION_KEYS",
    "LoadedConfig",
    "display_value",
    "known_keys",
    "load_config",
]


def load_config(inputs: LayerInputs) -> LoadedConfig:
    """Read every layer in order, merge them, validate the result (cached between commands)."""
    probe = Probe(inputs) if cacheable(inputs) else None
    if probe is not None:
        hit = probe.lookup()
        if hit is not None:
            return hit
    from nestr.config.build import build_config  # PyYAML and pydantic: only on a miss

    loaded = build_config(inputs)
    if probe is not None:
        probe.remember(loaded)
    return loaded
