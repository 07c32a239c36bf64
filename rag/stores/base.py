"""The one seam between the program and where an index lives: `Store`, keyed by stable ids (chunk_id, doc_id), never
by positions in an array.

Callers read documents and chunks, ask for four rankings (dense and BM25, over chunks and over whole documents, each
optionally scoped to some documents before ranking), write a document with its chunks and vectors, remove one, and
commit. Behind it a backend keeps three private parts: the catalog (documents, chunks, each document's centroid: a
`rag.stores.catalog.Catalog` in memory, or a generation's SQLite file read by key, `SqliteCatalog`), a vector index
(`VectorStore`: upsert, delete, search, fetch by chunk_id) and the BM25 indexes derived from the catalog
(`rag.lexical.Lexical`). `Store.commit()` makes everything written since the last commit visible at once (a new
generation); until then a reader of the same location sees the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence

import numpy as np

from rag.chunking import ChunkSettings
from rag.stores.catalog import Catalog, exact_top_k
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


def centroid(vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of a document's chunk vectors: the document's position for document-level search."""
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)


class Store:
    """One index at one location (a folder, a Milvus file or server): the only surface the rest of the program sees.

    Reading: `documents()`, `document(doc_id)`, `document_at(source)`, `find(name)`, `chunk(chunk_id)`,
    `chunks(doc_id=None)`, `chunk_count()`, `chunk_counts()`, `centroid(doc_id)`, `vectors(chunk_ids)`, and the four
    rankings retrieval fuses — `dense` and `lexical` over chunks, `dense_documents` and `lexical_documents` over whole
    documents — each with an optional scope (doc_ids) that is applied before ranking, never after a top-k.
    Writing: `write(document, chunks, vectors)` replaces whatever had the document's source, `remove(source)`, and
    `commit()` makes everything since the last commit visible at once (a new generation; until then a reader of the
    same location sees the previous one); `writing()` holds the location's write lock.

    A backend (folder, Milvus) keeps its parts private: the catalog (documents, chunks, centroids), its vector
    index, and the BM25 indexes derived from the catalog (rebuilt on first use after a change, reusing the tokens of
    texts that did not change). It provides `_vector_index` (upsert, delete, search, fetch, count), `commit`,
    `is_stale`, `describe` and may rank a scope itself (`_dense_within`) or search document centroids itself
    (Milvus overrides `dense_documents`)."""

    location: str
    info: IndexInfo
    generation: str | None = None
    _catalog: Catalog  # or a SqliteCatalog: the same surface
    _vector_index: VectorStore
    _lexical_index = None
    _previous_lexical = None
    _last_scope: tuple[frozenset[str], list[str]] | None = None

    # ----- documents and chunks ------------------------------------------------------------------------------

    def documents(self) -> list[Document]:
        """Every document, in the order they were added."""
        return self._catalog.document_list()

    def sources(self) -> list[str]:
        return self._catalog.source_list()

    def document(self, doc_id: str) -> Document:
        return self._catalog.document(doc_id)

    def document_at(self, source: str) -> Document | None:
        """The document indexed from `source`, or None."""
        return self._catalog.at(source)

    def find(self, source: str) -> str:
        """The indexed source a person means: the exact source, its absolute path, or a unique file name."""
        return self._catalog.find(source, self.location)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._catalog.chunk(chunk_id)

    def chunks(self, doc_id: str | None = None) -> list[Chunk]:
        """One document's chunks in order, or (without doc_id) every chunk, document by document."""
        return self._catalog.chunks() if doc_id is None else self._catalog.chunks_of(doc_id)

    def chunk_count(self) -> int:
        return self._catalog.chunk_count()

    def chunk_counts(self) -> dict[str, int]:
        """doc_id -> number of chunks."""
        return self._catalog.chunk_counts()

    def centroid(self, doc_id: str) -> np.ndarray | None:
        return self._catalog.centroid(doc_id)

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of these chunks, in order (to move an index to another store without re-embedding)."""
        return self._vector_index.fetch(chunk_ids)

    # ----- rankings ------------------------------------------------------------------------------------------

    def dense(self, vectors: np.ndarray, k: int, scope: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        """Per query vector, up to k (chunk_id, inner product) pairs, best first; with `scope`, among those
        documents' chunks only."""
        if scope is None:
            return self._vector_index.search(vectors, k)
        chunk_ids = self._scoped_chunk_ids(scope)
        if not chunk_ids:
            return [[] for _ in range(len(vectors))]
        found = self._dense_within(vectors, k, scope, len(chunk_ids))
        if found is not None:
            return found
        return exact_top_k(vectors, chunk_ids, self._vector_index.fetch(chunk_ids), k)

    def _dense_within(self, vectors: np.ndarray, k: int, scope: frozenset[str], chunks: int):
        """A backend that ranks a scope itself returns its lists here; None: exact scores over fetched vectors."""
        return None

    def dense_documents(self, vectors: np.ndarray, k: int,
                        scope: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        """Per query vector, up to k (doc_id, similarity to the document's centroid) pairs, best first."""
        return self._catalog.search_documents(vectors, k, scope)

    def lexical(self, queries: Sequence[str], k: int,
                scope: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        """Per query, up to k (chunk_id, BM25 score) pairs, best first; with `scope`, among those documents' chunks."""
        allowed = frozenset(self._scoped_chunk_ids(scope)) if scope is not None else None
        return self._bm25().chunks.search_many(queries, k, allowed)

    def lexical_documents(self, queries: Sequence[str], k: int,
                          scope: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        """Per query, up to k (doc_id, BM25 score of the whole document) pairs, best first."""
        return self._bm25().documents.search_many(queries, k, scope)

    def _scoped_chunk_ids(self, scope: frozenset[str]) -> list[str]:
        """The scope's chunk ids, kept for the last scope asked: the dense and BM25 rankings of one question share
        them (written again, the store forgets them)."""
        last = self._last_scope
        if last is not None and last[0] == scope:
            return last[1]
        chunk_ids = [chunk_id for doc_id in sorted(scope) for chunk_id in self._catalog.chunk_ids_of(doc_id)]
        self._last_scope = (scope, chunk_ids)
        return chunk_ids

    def _bm25(self):
        if self._lexical_index is None:
            from rag.lexical import Lexical

            self._lexical_index = Lexical.build(self._catalog, self._previous_lexical)
            self._previous_lexical = None
        return self._lexical_index

    # ----- writing -------------------------------------------------------------------------------------------

    def write(self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray,
              centroid_vector: np.ndarray | None = None) -> None:
        """Put a document with its chunks and their vectors (not yet committed), replacing the one with the same
        source; its centroid is computed from the vectors unless given."""
        if self._catalog.at(document.source) is not None:
            self._vector_index.delete(c.chunk_id for c in self._catalog.remove(document.source)[1])
        self._vector_index.upsert(chunks, vectors)
        if centroid_vector is None and len(chunks):
            centroid_vector = centroid(vectors)
        self._catalog.put(document, chunks, centroid_vector)
        self._changed()

    def remove(self, source: str) -> Document:
        """Remove the document indexed from `source` (exactly as indexed; `find` resolves a name); not yet committed."""
        document, chunks = self._catalog.remove(source)
        self._vector_index.delete(c.chunk_id for c in chunks)
        self._changed()
        return document

    def _changed(self) -> None:
        """The catalog changed: the BM25 indexes are rebuilt on first use, reusing unchanged texts' tokens."""
        self._previous_lexical = self._lexical_index or self._previous_lexical
        self._lexical_index = None
        self._last_scope = None

    def writing(self):
        """Held while one process writes this location (see `rag.stores.writing`)."""
        from rag.stores import writing

        return writing(self.location)

    def commit(self) -> str:
        raise NotImplementedError

    def is_stale(self) -> bool:
        """Whether another process committed a newer generation since this one was read."""
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError
