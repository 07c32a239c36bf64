"""What every store provides, keyed by stable ids (chunk_id, doc_id), never by positions in an array.

A store is three parts behind one object:

- a document store (`Catalog`): the documents, their chunks and each document's centroid (the normalised mean of its
  chunk vectors), held in memory by every store and persisted by the store's own backend;
- a vector store (`VectorStore`): chunk vectors by chunk_id — upsert, delete, top-k search, count;
- the lexical index (`rag.lexical.Lexical`): BM25 over chunks and whole documents, derived from the catalog.

`Store.commit()` makes everything written since the last commit visible at once (a new generation); until then a
reader of the same location sees the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence

import numpy as np

from rag.chunking import ChunkSettings
from rag.types import Chunk, Document


@dataclass(frozen=True)
class IndexInfo:
    """What an index was built with: vectors from another model or chunks cut another way do not mix with these."""

    embedder_id: str
    dimension: int
    chunking: ChunkSettings = field(default_factory=ChunkSettings)


class VectorStore(Protocol):
    """Chunk vectors keyed by chunk_id. Scores are inner products of unit vectors (cosine similarity)."""

    dimension: int

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def delete(self, chunk_ids: Iterable[str]) -> None: ...

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each query vector, up to k (chunk_id, score) pairs, best first."""
        ...

    def count(self) -> int: ...

    def fetch(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of these chunks, in order (to move an index to another store without re-embedding)."""
        ...


class Catalog:
    """Documents (by source), their chunks (by chunk_id, in document order) and document centroids (by doc_id)."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self._by_id: dict[str, Document] = {}
        self._chunks: dict[str, list[Chunk]] = {}  # doc_id -> chunks
        self._chunk: dict[str, Chunk] = {}
        self._centroids: dict[str, np.ndarray] = {}
        self._centroid_matrix: tuple[list[str], np.ndarray] | None = None
        # source -> the document put since the last commit, or None when removed (what a store must write)
        self.changes: dict[str, Document | None] = {}

    def put(self, document: Document, chunks: Sequence[Chunk], centroid: np.ndarray | None) -> None:
        """Add a document with its chunks, replacing whatever had the same source."""
        if document.source in self.documents:
            self.remove(document.source)
        self.documents[document.source] = document
        self._by_id[document.doc_id] = document
        self._chunks[document.doc_id] = list(chunks)
        for chunk in chunks:
            self._chunk[chunk.chunk_id] = chunk
        if centroid is not None:
            self._centroids[document.doc_id] = np.asarray(centroid, dtype=np.float32)
        self._centroid_matrix = None
        self.changes[document.source] = document

    def remove(self, source: str) -> tuple[Document, list[Chunk]]:
        document = self.documents.pop(source)
        self._by_id.pop(document.doc_id, None)
        chunks = self._chunks.pop(document.doc_id, [])
        for chunk in chunks:
            self._chunk.pop(chunk.chunk_id, None)
        self._centroids.pop(document.doc_id, None)
        self._centroid_matrix = None
        self.changes[source] = None
        return document, chunks

    def find(self, source: str, location: str = "") -> str:
        """The indexed source a user means: the exact source, its absolute path, or a unique file name."""
        from pathlib import Path

        from rag.errors import LoadError

        if source in self.documents:
            return source
        absolute = str(Path(source).expanduser().resolve())
        if absolute in self.documents:
            return absolute
        by_name = [s for s in self.documents if Path(s).name == source]
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:
            raise LoadError(f"'{source}' matches {len(by_name)} documents", hint="give the full path shown by `rag list`")
        raise LoadError(f"'{source}' is not in the index" + (f" at {location}" if location else ""), hint="see what is indexed with `rag list`")

    def document(self, doc_id: str) -> Document:
        return self._by_id[doc_id]

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._chunk.get(chunk_id)

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        return list(self._chunks.get(doc_id, ()))

    def chunks(self) -> list[Chunk]:
        """Every chunk, document by document in the order the documents were added."""
        return [chunk for doc in self.documents.values() for chunk in self._chunks.get(doc.doc_id, ())]

    def chunk_count(self) -> int:
        return len(self._chunk)

    def chunk_counts(self) -> dict[str, int]:
        return {doc_id: len(chunks) for doc_id, chunks in self._chunks.items()}

    def centroid(self, doc_id: str) -> np.ndarray | None:
        return self._centroids.get(doc_id)

    def search_documents(self, vectors: np.ndarray, k: int,
                         allowed: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        """Dense search over document centroids: (doc_id, similarity) pairs, best first; only `allowed` doc_ids
        when given."""
        if self._centroid_matrix is None:
            ids = [doc.doc_id for doc in self.documents.values() if doc.doc_id in self._centroids]
            matrix = np.stack([self._centroids[i] for i in ids]) if ids else np.zeros((0, 1), dtype=np.float32)
            self._centroid_matrix = (ids, matrix)
        ids, matrix = self._centroid_matrix
        if allowed is not None:
            rows = [n for n, i in enumerate(ids) if i in allowed]
            ids, matrix = [ids[n] for n in rows], matrix[rows] if rows else np.zeros((0, 1), dtype=np.float32)
        return exact_top_k(vectors, ids, matrix, k)


def exact_top_k(vectors: np.ndarray, ids: list[str], matrix: np.ndarray | None,
                k: int) -> list[list[tuple[str, float]]]:
    """(id, inner product) top-k of each query vector among `matrix`'s rows (one per id), best first."""
    if matrix is None or not len(ids) or k <= 0:
        return [[] for _ in range(len(vectors))]
    scores = np.asarray(vectors, dtype=np.float32) @ np.asarray(matrix, dtype=np.float32).T
    k = min(k, len(ids))
    results = []
    for row in scores:
        top = np.argpartition(-row, k - 1)[:k]
        top = top[np.argsort(-row[top], kind="stable")]
        results.append([(ids[i], float(row[i])) for i in top])
    return results


def centroid(vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of a document's chunk vectors: the document's position for document-level search."""
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)


def write_document(store: "Store", document: Document, chunks: Sequence[Chunk], vectors: np.ndarray,
                   document_vector: np.ndarray | None = None) -> None:
    """Put a document with its chunks and their vectors into a store (not yet committed), replacing the one with the
    same source; its centroid is computed from the vectors unless given."""
    if document.source in store.catalog.documents:
        store.vectors.delete(c.chunk_id for c in store.catalog.remove(document.source)[1])
    store.vectors.upsert(chunks, vectors)
    if document_vector is None and len(chunks):
        document_vector = centroid(vectors)
    store.catalog.put(document, chunks, document_vector)


class DerivedLexical:
    """The BM25 indexes of a store, derived from its catalog: rebuilt on first use after a change, reusing the tokens
    of texts that did not change."""

    _lexical = None
    _previous_lexical = None
    catalog: Catalog

    @property
    def lexical(self):
        if self._lexical is None:
            from rag.lexical import Lexical

            self._lexical = Lexical.build(self.catalog, self._previous_lexical)
            self._previous_lexical = None
        return self._lexical

    def changed(self) -> None:
        """The catalog changed: derived indexes are rebuilt on first use."""
        self._previous_lexical = self._lexical or self._previous_lexical
        self._lexical = None


class Store(Protocol):
    """One index: its catalog, vectors and lexical index, at one location (a folder, a Milvus file or server)."""

    location: str
    info: IndexInfo
    catalog: Catalog
    vectors: VectorStore
    generation: str | None

    @property
    def lexical(self): ...

    def changed(self) -> None:
        """The catalog changed: indexes derived from it (BM25) are rebuilt on first use."""
        ...

    def commit(self) -> str: ...

    def is_stale(self) -> bool:
        """Whether another process committed a newer generation since this one was read."""
        ...

    def describe(self) -> dict: ...
