"""The vector part of a Milvus store: chunk rows (with their text) in PREFIX_chunks, searched among committed
generations (see rag.stores.milvus_store)."""

from __future__ import annotations

import json
import zlib
from typing import Iterable, Sequence

import numpy as np

from rag.errors import IndexCorruptError
from rag.types import Chunk

QUERY_LIMIT = 16_384  # Milvus returns at most this many rows per query
INSERT_BATCH = 512
BUCKETS = 1024  # every row's crc32(key) % BUCKETS, to page through more rows than QUERY_LIMIT
EXTRA_ROWS = 16  # fetched beyond k: rows of other generations (not read yet, or superseded) are skipped


def _bucket(key: str) -> int:
    return zlib.crc32(key.encode("utf-8")) % BUCKETS


def _quote(value: str) -> str:
    return json.dumps(value)  # a Milvus string literal: double quotes, backslash escapes


def _in(field: str, values: Iterable) -> str:
    return f"{field} in [{', '.join(_quote(v) if isinstance(v, str) else str(int(v)) for v in values)}]"


class MilvusVectorStore:
    """The VectorStore part: chunk rows (with their text) in PREFIX_chunks, searched among committed generations."""

    def __init__(self, store):
        self._store = store
        self.dimension = store.info.dimension

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        gen = self._store.pending_generation()
        rows = [{"key": f"{c.chunk_id}@{gen}", "chunk_id": c.chunk_id, "doc_id": c.doc_id, "gen": gen,
                 "start": c.start, "end": c.end, "text": c.text, "bucket": _bucket(c.chunk_id),
                 "vector": np.asarray(v, dtype=np.float32).tolist()} for c, v in zip(chunks, vectors)]
        for start in range(0, len(rows), INSERT_BATCH):
            self._store.call("insert", self._store.names["chunks"], data=rows[start : start + INSERT_BATCH])

    def delete(self, chunk_ids: Iterable[str]) -> None:
        """Nothing to do before commit: the superseded document's rows stop being read when the new generation is
        committed, and are deleted then (MilvusStore.commit)."""

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        return self.search_where(vectors, min(k, self._store.chunk_count()), self._store.visible_filter())

    def search_where(self, vectors: np.ndarray, depth: int, condition: str) -> list[list[tuple[str, float]]]:
        if depth <= 0:
            return [[] for _ in range(len(vectors))]
        # Rows of other generations are skipped by the join on this reader's catalog; fetch a little more so k remain.
        results = self._store.call(
            "search", self._store.names["chunks"], data=[np.asarray(v, dtype=np.float32).tolist() for v in vectors],
            anns_field="vector", limit=min(QUERY_LIMIT, depth + EXTRA_ROWS), filter=condition,
            output_fields=["chunk_id", "doc_id", "gen"], search_params={"metric_type": "IP", "params": {}},
            consistency_level="Strong")
        return [current_chunks(self._store, rows, depth) for rows in results]

    def count(self) -> int:
        return self._store.chunk_count()

    def search_documents(self, vectors: np.ndarray, depth: int, condition: str | None,
                         scope: frozenset[str] | None) -> list[list[tuple[str, float]]]:
        """Per query, up to `depth` (doc_id, similarity to the document's centroid) among the documents `condition`
        selects; when it is None (a scope too long for one expression), the scope's centroids are fetched and
        ranked exactly."""
        from rag.stores.catalog import exact_top_k

        store = self._store
        if condition is None:
            rows = [row for batch in _batches(sorted(scope or ()), 512) for row in store.query_all(
                "documents", f"({store.visible_filter()}) and {_in('doc_id', batch)}", ["doc_id", "gen", "vector"])
                if store.is_current(row["doc_id"], row["gen"])]
            matrix = np.asarray([row["vector"] for row in rows], dtype=np.float32).reshape(len(rows), -1)
            return exact_top_k(vectors, [row["doc_id"] for row in rows], matrix, depth)
        results = store.call(
            "search", store.names["documents"], data=[np.asarray(v, dtype=np.float32).tolist() for v in vectors],
            anns_field="vector", limit=min(QUERY_LIMIT, depth + EXTRA_ROWS), filter=f"deleted == false and ({condition})",
            output_fields=["doc_id", "gen"], search_params={"metric_type": "IP", "params": {}},
            consistency_level="Strong")
        return [[(row["entity"]["doc_id"], float(row["distance"])) for row in found
                 if store.is_current(row["entity"]["doc_id"], row["entity"]["gen"])][:depth] for found in results]

    def fetch(self, chunk_ids: Sequence[str]) -> np.ndarray:
        store, keys = self._store, []
        for chunk_id in chunk_ids:
            chunk = store.chunk(chunk_id)
            keys.append(f"{chunk_id}@{store.generation_of(chunk.doc_id) if chunk else -1}")
        found: dict[str, list[float]] = {}
        for batch in _batches(keys, 1024):
            for row in store.query_all("chunks", _in("key", batch), ["key", "vector"]):
                found[row["key"]] = row["vector"]
        missing = [k for k in keys if k not in found]
        if missing:
            raise IndexCorruptError(f"{len(missing)} chunk vectors are missing from {store.location} (e.g. {missing[0]})",
                                    hint=f"rebuild it with `rag index --rebuild PATH... --store {store.location}`")
        return np.asarray([found[k] for k in keys], dtype=np.float32).reshape(len(keys), self.dimension)


def current_chunks(store, rows, k: int) -> list[tuple[str, float]]:
    """Up to k (chunk_id, score) of one query's Milvus hits, best first, keeping only rows of the generation this
    reader sees of each document (hits of a newer commit not read yet, or of a superseded one not yet deleted, are
    skipped) and each chunk once."""
    seen, pairs = set(), []
    for row in rows:
        entity = row["entity"]
        if entity["chunk_id"] in seen or not store.is_current(entity["doc_id"], entity["gen"]):
            continue
        seen.add(entity["chunk_id"])
        pairs.append((entity["chunk_id"], float(row["distance"])))
    return pairs[:k]


def _batches(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
