"""Load → chunk → embed → write → commit: the one place documents enter or leave a store.

Change detection is by source and content hash: an unchanged document embeds nothing, a changed one replaces its
chunks (deleted from the vector store by chunk_id, nothing rebuilt), the same text under a second name is reported
as a duplicate. Every embedding is computed before the store is touched, so a failure while embedding changes nothing;
nothing is visible to readers before `commit`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from rag.chunking import Chunker
from rag.errors import IndexMismatchError
from rag.stores.base import Store
from rag.types import Chunk, Document

EMBED_BATCH = 256


@dataclass
class UpdateReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_embedded: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced or self.removed)


class Indexer:
    def __init__(self, store: Store, chunker: Chunker, embed: Callable[[list[str]], np.ndarray]):
        self.store = store
        self.chunker = chunker
        self.embed = embed

    def upsert(self, documents: Sequence[Document], *,
               on_progress: Callable[[int, int], None] | None = None) -> UpdateReport:
        """Add new documents and replace changed ones (not yet committed)."""
        report, todo = self._plan(documents)
        self._drop_stale_attachments(documents, report)
        chunked = [(doc, self.chunker.chunk(doc)) for doc in todo]
        vectors = self._embed([chunk for _, chunks in chunked for chunk in chunks], on_progress)
        start = 0
        for doc, chunks in chunked:
            self.store.write(doc, chunks, vectors[start : start + len(chunks)])
            start += len(chunks)
        report.chunks_embedded = len(vectors)
        return report

    def remove(self, source: str) -> Document:
        """Remove one document by its source path (or a unique file name), and what was attached to it (a mail's
        attachments); not yet committed."""
        key = self.store.find(source)
        for attached in [d.source for d in self.store.documents() if d.meta.get("container") == key]:
            self.store.remove(attached)
        return self.store.remove(key)

    def _drop_stale_attachments(self, documents: Sequence[Document], report: UpdateReport) -> None:
        """A mail read again may no longer carry an attachment it had: that attachment's document goes."""
        containers = {doc.source for doc in documents if not doc.meta.get("container")}
        kept = {doc.source for doc in documents}
        stale = [doc.source for doc in self.store.documents()
                 if doc.meta.get("container") in containers and doc.source not in kept]
        for source in stale:
            self.store.remove(source)
            report.removed.append(source)

    def _plan(self, documents: Sequence[Document]) -> tuple[UpdateReport, list[Document]]:
        report, todo = UpdateReport(), []
        by_hash = {doc.doc_id: doc.source for doc in self.store.documents()}
        for doc in documents:
            old = self.store.document_at(doc.source)
            if old is not None and old.doc_id == doc.doc_id:
                report.unchanged.append(doc.source)
                continue
            twin = by_hash.get(doc.doc_id)
            if twin is not None and twin != doc.source:
                report.duplicates.append((doc.source, twin))
                continue
            by_hash[doc.doc_id] = doc.source
            (report.replaced if old is not None else report.added).append(doc.source)
            todo.append(doc)
        return report, todo

    def _embed(self, chunks: list[Chunk], on_progress) -> np.ndarray:
        dimension = self.store.info.dimension
        parts = []
        for start in range(0, len(chunks), EMBED_BATCH):
            parts.append(np.asarray(self.embed([c.text for c in chunks[start : start + EMBED_BATCH]]), dtype=np.float32))
            if on_progress:
                on_progress(min(start + EMBED_BATCH, len(chunks)), len(chunks))
        vectors = np.vstack(parts) if parts else np.zeros((0, dimension), dtype=np.float32)
        if vectors.shape[1] != dimension:
            raise IndexMismatchError(
                f"embedder returned {vectors.shape[1]}-d vectors for an index of {dimension}-d",
                hint=f"use the embedder the index was built with, or rebuild it with `rag index --rebuild PATH... "
                     f"--store {self.store.location}`",
            )
        return vectors
