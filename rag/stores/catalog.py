"""The catalog of a store: documents (by source), their chunks (by chunk_id, in document order) and each document's
centroid (by doc_id).

Two kinds with one surface: `Catalog` holds everything in memory (a new index, Milvus, an index of the older
formats); `rag.stores.sqlite_catalog.SqliteCatalog` reads a folder generation's catalog.sqlite by key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rag.types import Chunk, Document


class Catalog:
    """Documents (by source), their chunks (by chunk_id, in document order) and document centroids (by doc_id)."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self._by_id: dict[str, Document] = {}
        # A chunk is held as (chunk_id, start, end) of its document, its text sliced from the document's when a Chunk
        # is asked for: the text is in memory once, not twice.
        self._spans: dict[str, list[tuple[str, int, int]]] = {}  # doc_id -> its chunks' (chunk_id, start, end)
        self._chunk: dict[str, tuple[str, int]] = {}  # chunk_id -> (doc_id, position in its document)
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
        self._spans[document.doc_id] = [(c.chunk_id, c.start, c.end) for c in chunks]
        for position, chunk in enumerate(chunks):
            self._chunk[chunk.chunk_id] = (document.doc_id, position)
        if centroid is not None:
            self._centroids[document.doc_id] = np.asarray(centroid, dtype=np.float32)
        self._centroid_matrix = None
        self.changes[document.source] = document

    def remove(self, source: str) -> tuple[Document, list[Chunk]]:
        document = self.documents.pop(source)
        chunks = self.chunks_of(document.doc_id)
        self._by_id.pop(document.doc_id, None)
        self._spans.pop(document.doc_id, None)
        for chunk in chunks:
            self._chunk.pop(chunk.chunk_id, None)
        self._centroids.pop(document.doc_id, None)
        self._centroid_matrix = None
        self.changes[source] = None
        return document, chunks

    def find(self, source: str, location: str = "") -> str:
        """The indexed source a user means: the exact source, its absolute path, or a unique file name."""
        return find_source(self, source, location)

    def document(self, doc_id: str) -> Document:
        return self._by_id[doc_id]

    def document_list(self) -> list[Document]:
        """Every document, in the order they were added."""
        return list(self.documents.values())

    def iter_documents(self) -> Iterator[Document]:
        return iter(list(self.documents.values()))

    def document_count(self) -> int:
        return len(self.documents)

    def source_list(self) -> list[str]:
        return list(self.documents)

    def entries(self) -> list[tuple[str, str]]:
        """(source, doc_id) of every document, without their texts."""
        return [(source, doc.doc_id) for source, doc in self.documents.items()]

    def at(self, source: str) -> Document | None:
        return self.documents.get(source)

    def chunk(self, chunk_id: str) -> Chunk | None:
        found = self._chunk.get(chunk_id)
        if found is None:
            return None
        doc_id, position = found
        return self._made(self._by_id[doc_id].text, doc_id, self._spans[doc_id][position])

    def chunk_ids_of(self, doc_id: str) -> list[str]:
        """A document's chunk ids in order (no chunk text is sliced)."""
        return [chunk_id for chunk_id, _, _ in self._spans.get(doc_id, ())]

    def chunk_spans(self, doc_id: str) -> list[tuple[str, int, int]]:
        """A document's chunks as (chunk_id, start, end), in order."""
        return list(self._spans.get(doc_id, ()))

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        spans = self._spans.get(doc_id)
        if not spans:
            return []
        text = self._by_id[doc_id].text
        return [self._made(text, doc_id, span) for span in spans]

    @staticmethod
    def _made(text: str, doc_id: str, span: tuple[str, int, int]) -> Chunk:
        chunk_id, start, end = span
        return Chunk(chunk_id, doc_id, start, end, text[start:end])

    def chunks(self) -> list[Chunk]:
        """Every chunk, document by document in the order the documents were added."""
        return [chunk for doc in self.documents.values() for chunk in self.chunks_of(doc.doc_id)]

    def chunk_count(self) -> int:
        return len(self._chunk)

    def chunk_counts(self) -> dict[str, int]:
        return {doc_id: len(spans) for doc_id, spans in self._spans.items()}

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


def exact_top_k(vectors: np.ndarray, ids: Sequence[str], matrix: np.ndarray | None, k: int,
                keep: np.ndarray | None = None) -> list[list[tuple[str, float]]]:
    """(id, inner product) top-k of each query vector among `matrix`'s rows (one per id), best first; only the rows
    where `keep` is true when it is given."""
    if matrix is None or not len(ids) or k <= 0:
        return [[] for _ in range(len(vectors))]
    scores = np.asarray(vectors, dtype=np.float32) @ np.asarray(matrix, dtype=np.float32).T
    k = min(k, len(ids))
    if keep is not None:
        scores[:, ~keep] = -np.inf
        k = min(k, int(keep.sum()))
        if k <= 0:
            return [[] for _ in range(len(vectors))]
    results = []
    for row in scores:
        top = np.argpartition(-row, k - 1)[:k]
        top = top[np.argsort(-row[top], kind="stable")]
        results.append([(str(ids[i]), float(row[i])) for i in top])
    return results


def find_source(catalog, source: str, location: str = "") -> str:
    """The indexed source a person means: the exact source, its absolute path, or a unique file name."""
    from rag.errors import LoadError

    if catalog.at(source) is not None:
        return source
    absolute = str(Path(source).expanduser().resolve())
    if catalog.at(absolute) is not None:
        return absolute
    by_name = [s for s in catalog.source_list() if Path(s).name == source]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise LoadError(f"'{source}' matches {len(by_name)} documents", hint="give the full path shown by `rag list`")
    raise LoadError(f"'{source}' is not in the index" + (f" at {location}" if location else ""),
                    hint="see what is indexed with `rag list`")
