"""The embedder: sentence-transformers, loaded lazily and once, vectors L2-normalised (inner product = cosine)."""

from __future__ import annotations

import threading
from typing import Protocol, Sequence

import numpy as np

from rag.models import DEFAULT_EMBEDDER, canonical_name, resolve_embedder


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
    """sentence-transformers model found offline by `rag.models.resolve_embedder`."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, *, batch_size: int = 64, device: str = "cpu"):
        self.model_id = canonical_name(model)
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(resolve_embedder(self.model_id)), device=self.device)
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Word pieces that fit in the model's window, leaving room for [CLS] and [SEP]."""
        return int(self.model.max_seq_length) - 2

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def _encode(self, texts: Sequence[str], show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, show_progress)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)
