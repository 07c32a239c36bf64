"""Where the assistant keeps things: the per-user cache (seed index, joined models, ONNX exports, eval indexes) and
the seed corpus that ships with the project. Every stage imports these from here, never from the assistant."""

from __future__ import annotations

import os
from pathlib import Path

SEED_CORPUS = Path(__file__).resolve().parent.parent / "seeds"


def cache_dir() -> Path:
    """Per-user cache (index of the seed corpus, joined model files); RAG_CACHE_DIR overrides it."""
    override = os.environ.get("RAG_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rag"))


def default_index_dir() -> Path:
    return cache_dir() / "seed-index"
