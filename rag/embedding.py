"""The embedder: a sentence-transformers model, loaded lazily and once, vectors L2-normalised (inner product = cosine).

Backends: `onnx-int8` (default: the model exported to ONNX and quantised to int8, about twice the indexing speed
of torch on CPU for the same retrieval quality, see docs/performance.md), `onnx` (exported, fp32:
the same vectors as torch) and `torch` (sentence-transformers itself). int8 vectors differ slightly from fp32 ones,
so the backend is part of the embedder's id and an index is always searched with the backend that built it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal, Protocol, Sequence

import numpy as np

from rag.errors import RagError
from rag.models import DEFAULT_EMBEDDER, PACKAGED_ONNX_EMBEDDERS, canonical_name, resolve_embedder, resolve_onnx_embedder

Backend = Literal["onnx-int8", "onnx", "torch"]
BACKENDS: tuple[str, ...] = ("onnx-int8", "onnx", "torch")
DEFAULT_BACKEND: Backend = "onnx-int8"
_INT8_SUFFIX = ":int8"


def embedder_id(model: str, backend: str) -> str:
    """fp32 backends give the same vectors, so they share an id; int8 vectors are a model of their own."""
    return canonical_name(model) + (_INT8_SUFFIX if backend == "onnx-int8" else "")


def split_embedder_id(value: str) -> tuple[str, Backend]:
    """(model name, a backend that reproduces its vectors) for an id written in an index manifest."""
    if value.endswith(_INT8_SUFFIX):
        return value[: -len(_INT8_SUFFIX)], "onnx-int8"
    return value, "onnx"


class EmbedderLike(Protocol):
    """What the index, retriever and readers need from an embedder; tests pass small fakes."""

    model_id: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class Embedder:
    """A sentence-transformers model found offline by `rag.models.resolve_embedder`, run by the chosen backend."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, *, backend: Backend = DEFAULT_BACKEND, batch_size: int | None = None,
                 device: str = "cpu"):
        if backend not in BACKENDS:
            raise RagError(f"unknown embedder backend '{backend}'", hint=f"choose one of {', '.join(BACKENDS)}")
        if canonical_name(model) in PACKAGED_ONNX_EMBEDDERS and backend != "onnx-int8":
            raise RagError(f"{model} ships as an int8 ONNX model only", hint="use --embedder-backend onnx-int8")
        self.name = canonical_name(model)
        self.backend = backend
        self.model_id = embedder_id(model, backend)
        # On CPU small batches win (large ones spill the caches): measured on 2 cores, torch peaks at 8-16 texts a
        # batch and ONNX Runtime int8 at 1-8 (docs/performance.md).
        self.batch_size = batch_size or (16 if backend == "torch" else 8)
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        """The loaded encoder (`TorchEncoder` or `rag.onnx_model.OnnxEncoder`): both count tokens and encode."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        shipped = resolve_onnx_embedder(self.name)
        if shipped is not None:
            from rag.onnx_model import ModelSpec, OnnxEncoder

            folder, packaged = shipped
            spec = ModelSpec(packaged.pooling, packaged.max_seq_length, packaged.dimension, packaged.query_prefix)
            return OnnxEncoder(folder, spec, batch_size=self.batch_size)
        folder = Path(resolve_embedder(self.name))
        if self.backend == "torch":
            return TorchEncoder(folder, batch_size=self.batch_size, device=self.device)
        from rag.paths import cache_dir
        from rag.onnx_model import load_encoder

        return load_encoder(folder, cache_dir() / "onnx", quantized=self.backend == "onnx-int8", batch_size=self.batch_size)

    @property
    def dimension(self) -> int:
        return self.model.dimension

    @property
    def max_tokens(self) -> int:
        """Word pieces that fit in the model's window, leaving room for [CLS] and [SEP]."""
        return self.model.max_seq_length - 2

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(self.model.encode(list(texts)), dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        prefix = self.model.query_prefix
        return self._encode([prefix + text for text in texts] if prefix else texts)


class TorchEncoder:
    """sentence-transformers itself, behind the same members as OnnxEncoder."""

    def __init__(self, folder: Path, *, batch_size: int, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(folder), device=device)
        self.batch_size = batch_size
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)
        self.query_prefix = ""

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
