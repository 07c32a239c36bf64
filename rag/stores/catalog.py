"""The catalog of a store: documents (by source), their chunks (by chunk_id, in document order) and each document's
centroid (by doc_id).

Two kinds with one surface: `Catalog` holds everything in memory (a new index, Milvus, an index of the older
formats), `SqliteCatalog` reads a folder generation's `catalog.sqlite` by key — a chunk's text is sliced from its
document's inside the query, centroids are memory-mapped — and holds in memory only what changed since it was
opened. `write_catalog` writes either kind into a new generation.
"""

from __future__ import annotations

import json
import sqlite3
import threading
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


CATALOG_FILE = "catalog.sqlite"
CENTROIDS_FILE = "centroids.npy"
# A generation's catalog is written once and never changed (a commit writes a new generation), so it is opened
# read-only and immutable: no journal, no locks, nothing written by readers.
SCHEMA = """
CREATE TABLE documents (number INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, source TEXT NOT NULL, title TEXT NOT NULL,
                        text TEXT NOT NULL, meta TEXT NOT NULL, centroid INTEGER);
CREATE TABLE chunks (number INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL,
                     start INTEGER NOT NULL, stop INTEGER NOT NULL);
"""
INDEXES = """
CREATE UNIQUE INDEX documents_by_source ON documents (source);
CREATE INDEX documents_by_id ON documents (doc_id);
CREATE INDEX chunks_by_id ON chunks (chunk_id);
CREATE INDEX chunks_by_document ON chunks (doc_id, number);
"""


def write_catalog(folder: Path, catalog, dimension: int) -> None:
    """Write `catalog` (either kind) as a generation's catalog.sqlite and centroids.npy (row n is the centroid of the
    document whose `centroid` column is n)."""
    count = catalog.document_count()
    matrix = np.lib.format.open_memmap(folder / CENTROIDS_FILE, mode="w+", dtype=np.float32, shape=(count, dimension))
    db = sqlite3.connect(folder / CATALOG_FILE)
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        rows = 0

        def documents():
            nonlocal rows
            for document in catalog.iter_documents():
                vector = catalog.centroid(document.doc_id)
                if vector is not None:
                    matrix[rows] = vector
                yield (document.doc_id, document.source, document.title, document.text,
                       json.dumps(dict(document.meta), ensure_ascii=False), rows if vector is not None else None)
                rows += 1
                for chunk_id, start, end in catalog.chunk_spans(document.doc_id):
                    spans.append((chunk_id, document.doc_id, start, end))

        spans: list[tuple[str, str, int, int]] = []
        db.executemany("INSERT INTO documents (doc_id, source, title, text, meta, centroid) VALUES (?, ?, ?, ?, ?, ?)",
                       documents())
        db.executemany("INSERT INTO chunks (chunk_id, doc_id, start, stop) VALUES (?, ?, ?, ?)", spans)
        db.executescript(INDEXES)
        db.commit()
    finally:
        db.close()
    matrix.flush()


def _sqlite_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro&immutable=1"


class SqliteCatalog:
    """A generation's catalog read by key from its catalog.sqlite (module docstring), with the documents put or
    removed since it was opened held in memory (`Catalog`) until the next commit writes them."""

    def __init__(self, folder: Path):
        self._db = sqlite3.connect(_sqlite_uri(folder / CATALOG_FILE), uri=True, check_same_thread=False)
        self._lock = threading.Lock()  # one connection, shared by the threads of a server
        self._centroids = np.load(folder / CENTROIDS_FILE, mmap_mode="r")
        self._centroid_ids: list[str] | None = None
        self._added = Catalog()
        self.changes = self._added.changes  # source -> document put since the last commit, or None when removed
        self._gone: set[str] = set()  # doc_ids of the file's documents removed or replaced since it was opened
        self._gone_sources: set[str] = set()
        self._gone_chunks = 0
        ((self._chunk_total,),) = self._query("SELECT COUNT(*) FROM chunks")

    def _query(self, sql: str, arguments: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, arguments).fetchall()

    # ----- documents ----------------------------------------------------------------------------------------

    @staticmethod
    def _document(row) -> Document:
        doc_id, source, title, text, meta = row
        return Document(doc_id, source, title, text, json.loads(meta))

    def _stored(self, column: str, value: str) -> Document | None:
        rows = self._query(f"SELECT doc_id, source, title, text, meta FROM documents WHERE {column} = ? "
                           "ORDER BY number", (value,))
        return next((self._document(r) for r in rows if r[0] not in self._gone), None)

    def at(self, source: str) -> Document | None:
        found = self._added.at(source)
        if found is None and source not in self._gone_sources:
            found = self._stored("source", source)
        return found

    def document(self, doc_id: str) -> Document:
        if doc_id in self._added._by_id:
            return self._added.document(doc_id)
        found = None if doc_id in self._gone else self._stored("doc_id", doc_id)
        if found is None:
            raise KeyError(doc_id)
        return found

    def iter_documents(self) -> Iterator[Document]:
        """Every document in the order they were added, read a few at a time (texts are not all held at once)."""
        with self._lock:
            cursor = self._db.execute("SELECT doc_id, source, title, text, meta FROM documents ORDER BY number")
        while True:
            with self._lock:
                batch = cursor.fetchmany(256)
            if not batch:
                break
            yield from (self._document(r) for r in batch if r[0] not in self._gone)
        yield from self._added.iter_documents()

    def document_list(self) -> list[Document]:
        return list(self.iter_documents())

    def source_list(self) -> list[str]:
        stored = [s for (s,) in self._query("SELECT source FROM documents ORDER BY number") if s not in self._gone_sources]
        return stored + self._added.source_list()

    def document_count(self) -> int:
        ((count,),) = self._query("SELECT COUNT(*) FROM documents")
        return count - len(self._gone) + self._added.document_count()

    def find(self, source: str, location: str = "") -> str:
        return find_source(self, source, location)

    # ----- chunks -------------------------------------------------------------------------------------------

    def chunk(self, chunk_id: str) -> Chunk | None:
        found = self._added.chunk(chunk_id)
        if found is not None:
            return found
        rows = self._query("SELECT c.doc_id, c.start, c.stop, substr(d.text, c.start + 1, c.stop - c.start) "
                           "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE c.chunk_id = ?", (chunk_id,))
        return next((Chunk(chunk_id, *row) for row in rows if row[0] not in self._gone), None)

    def chunk_spans(self, doc_id: str) -> list[tuple[str, int, int]]:
        """A document's chunks as (chunk_id, start, end), in order."""
        if doc_id in self._added._by_id:
            return self._added.chunk_spans(doc_id)
        if doc_id in self._gone:
            return []
        return self._query("SELECT chunk_id, start, stop FROM chunks WHERE doc_id = ? ORDER BY number", (doc_id,))

    def chunk_ids_of(self, doc_id: str) -> list[str]:
        return [chunk_id for chunk_id, _, _ in self.chunk_spans(doc_id)]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        spans = self.chunk_spans(doc_id)
        if not spans:
            return []
        text = self.document(doc_id).text
        return [Chunk(chunk_id, doc_id, start, end, text[start:end]) for chunk_id, start, end in spans]

    def chunks(self) -> list[Chunk]:
        return [chunk for doc in self.iter_documents() for chunk in self.chunks_of(doc.doc_id)]

    def chunk_count(self) -> int:
        return self._chunk_total - self._gone_chunks + self._added.chunk_count()

    def chunk_counts(self) -> dict[str, int]:
        counts = {doc_id: n for doc_id, n in self._query("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id")
                  if doc_id not in self._gone}
        counts.update(self._added.chunk_counts())
        return counts

    # ----- centroids ----------------------------------------------------------------------------------------

    def centroid(self, doc_id: str) -> np.ndarray | None:
        if doc_id in self._added._by_id or doc_id in self._gone:
            return self._added.centroid(doc_id)
        rows = self._query("SELECT centroid FROM documents WHERE doc_id = ? AND centroid IS NOT NULL", (doc_id,))
        return np.array(self._centroids[rows[0][0]]) if rows else None

    def search_documents(self, vectors: np.ndarray, k: int,
                         allowed: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        if self._centroid_ids is None:
            self._centroid_ids = [i for (i,) in self._query(
                "SELECT doc_id FROM documents WHERE centroid IS NOT NULL ORDER BY centroid")]
        ids = self._centroid_ids
        keep = None
        if self._gone or allowed is not None:
            keep = np.fromiter((i not in self._gone and (allowed is None or i in allowed) for i in ids),
                               dtype=bool, count=len(ids))
        stored = exact_top_k(vectors, ids, self._centroids[: len(ids)], k, keep)
        added = self._added.search_documents(vectors, k, allowed)
        return [sorted(a + b, key=lambda pair: -pair[1])[:k] for a, b in zip(stored, added)]

    # ----- changes ------------------------------------------------------------------------------------------

    def put(self, document: Document, chunks: Sequence[Chunk], centroid: np.ndarray | None) -> None:
        self._forget(document.source)
        self._added.put(document, chunks, centroid)

    def remove(self, source: str) -> tuple[Document, list[Chunk]]:
        if self._added.at(source) is not None:
            return self._added.remove(source)
        document = self.at(source)
        if document is None:
            raise KeyError(source)
        chunks = self.chunks_of(document.doc_id)
        self._forget(source)
        self.changes[source] = None
        return document, chunks

    def _forget(self, source: str) -> None:
        """The file's document at `source`, if any, no longer counts (removed, or replaced by a put)."""
        if source in self._gone_sources:
            return
        document = self._stored("source", source)
        if document is not None:
            self._gone_chunks += len(self.chunk_spans(document.doc_id))
            self._gone.add(document.doc_id)
            self._gone_sources.add(source)
