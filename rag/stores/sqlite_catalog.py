"""A folder generation's catalog in SQLite: `SqliteCatalog` reads catalog.sqlite by key — a chunk's text is sliced
from its document's (the documents recently read are kept), centroids are memory-mapped — and holds in memory only
what changed since it was opened (a `Catalog`). `write_catalog` writes either kind of catalog into a new generation.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rag.arrays import Texts, load, utf8
from rag.stores.catalog import Catalog, exact_top_k, find_source
from rag.types import Chunk, Document

CATALOG_FILE = "catalog.sqlite"
# Document texts kept after reading, most recent first: the documents of the questions in flight (a reader looks a
# document up many times a question, and a chunk's text is sliced from its document's).
RECENT_CHARS = 16_000_000
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
        self._centroids = load(folder / CENTROIDS_FILE, mapped=True)
        self._centroid_rows: tuple[Texts, np.ndarray] | None = None  # doc_ids by row, and which rows have one
        self._recent: OrderedDict[str, Document] = OrderedDict()
        self._recent_chars = 0
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
        found = None if doc_id in self._gone else self._recently_read(doc_id)
        if found is None:
            raise KeyError(doc_id)
        return found

    def _recently_read(self, doc_id: str) -> Document | None:
        """The stored document with this id, kept among the recent ones (RECENT_CHARS of text at most)."""
        with self._lock:
            found = self._recent.get(doc_id)
            if found is not None:
                self._recent.move_to_end(doc_id)
                return found
        found = self._stored("doc_id", doc_id)
        if found is not None:
            with self._lock:
                if doc_id not in self._recent:
                    self._recent[doc_id] = found
                    self._recent_chars += len(found.text)
                while self._recent_chars > RECENT_CHARS and len(self._recent) > 1:
                    self._recent_chars -= len(self._recent.popitem(last=False)[1].text)
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

    def entries(self) -> list[tuple[str, str]]:
        stored = [(s, d) for s, d in self._query("SELECT source, doc_id FROM documents ORDER BY number")
                  if d not in self._gone]
        return stored + self._added.entries()

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
        for doc_id, start, end in self._query("SELECT doc_id, start, stop FROM chunks WHERE chunk_id = ?", (chunk_id,)):
            document = None if doc_id in self._gone else self._recently_read(doc_id)
            if document is not None:
                return Chunk(chunk_id, doc_id, start, end, document.text[start:end])
        return None

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
        if self._centroid_rows is None:  # row n of centroids.npy belongs to the n-th document (zeros: it has none)
            rows = self._query("SELECT doc_id, centroid IS NOT NULL FROM documents ORDER BY number")
            self._centroid_rows = (Texts(utf8(doc_id for doc_id, _ in rows)),
                                   np.fromiter((bool(has) for _, has in rows), dtype=bool, count=len(rows)))
        ids, keep = self._centroid_rows
        if self._gone:
            keep = keep & ~np.isin(ids.array, utf8(self._gone))
        if allowed is not None:
            keep = keep & np.isin(ids.array, utf8(allowed))
        stored = exact_top_k(vectors, ids, self._centroids, k, keep)
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
