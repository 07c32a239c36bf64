"""What a Milvus store reads into a process, and this machine's read cache of it.

The visible catalog (document texts, chunk offsets) and, where Milvus does not compute BM25 itself, its BM25 are
read from Milvus once per visible state and kept in the user's cache the way a folder generation is (catalog.sqlite
read by key, BM25 memory-mapped): a process that sees the same state opens it instead of reading every text from
Milvus and tokenizing it again, and holds little of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from rag.errors import IndexCorruptError
from rag.stores.catalog import Catalog
from rag.stores.milvus_vectors import _batches, _in
from rag.types import Chunk, Document

KEPT_STATES = 3  # per location: the newest states stay for processes still reading them
log = logging.getLogger("rag.stores")


def cached(store, live: list[dict]):
    """(SqliteCatalog, Lexical or None) of the visible state: `live` are the (source, doc_id, gen, chars) rows of
    every visible document; no BM25 when Milvus computes it (`store.server_bm25`). Made once per state, in a
    temporary folder renamed into place when complete; where the cache cannot be written, the catalog and BM25 are
    held in this process instead (with a warning)."""
    from rag.lexical import Lexical
    from rag.paths import cache_dir
    from rag.stores.sqlite_catalog import SqliteCatalog

    lexical = not store.server_bm25
    state = hashlib.sha256(json.dumps([lexical, *([r["source"], r["doc_id"], r["gen"]] for r in live)]).encode()).hexdigest()
    root = cache_dir() / "milvus" / hashlib.sha256(store.location.encode()).hexdigest()[:16]
    folder = root / state[:24]
    try:
        if not (folder / "done").is_file():
            _make(store, live, root, folder)
        os.utime(folder)
    except OSError as exc:  # no writable cache here: the catalog and BM25 are held in this process instead
        log.warning("the Milvus read cache in %s cannot be written (%s); holding the index in memory", root, exc)
        catalog = read_catalog(store, live)
        return catalog, Lexical.build(catalog) if lexical else None
    return SqliteCatalog(folder), Lexical.load(folder / "lexical") if lexical else None


def _make(store, live: list[dict], root: Path, folder: Path) -> None:
    from rag.lexical import Lexical
    from rag.stores.sqlite_catalog import write_catalog

    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    catalog = read_catalog(store, live)
    write_catalog(building, catalog, store.info.dimension)
    if not store.server_bm25:
        Lexical.build(catalog).save(building / "lexical")
    (building / "done").write_text(store.location, encoding="utf-8")
    del catalog
    try:
        os.replace(building, folder)
    except OSError:  # another process made the same state meanwhile: theirs is as good
        shutil.rmtree(building, ignore_errors=True)
    states = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: p.stat().st_mtime)
    for old in states[:-KEPT_STATES]:
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)


def read_catalog(store, live: list[dict]) -> Catalog:
    """The visible documents with their texts and chunks, read from Milvus."""
    texts = _texts(store, [row["doc_id"] for row in live])
    chunks = _chunks(store, live)
    details = {}
    for batch in _batches([row["doc_id"] for row in live], 256):
        for row in store.query_all("documents", f"({store.visible_filter()}) and {_in('doc_id', batch)}",
                                   ["doc_id", "gen", "title", "meta"]):
            details[(row["doc_id"], row["gen"])] = row
    catalog = Catalog()
    for row in live:
        text, detail = texts.get(row["doc_id"]), details.get((row["doc_id"], row["gen"]))
        if text is None or len(text) != row["chars"] or detail is None:
            raise IndexCorruptError(f"the text of {row['source']} is missing from {store.location}",
                                    hint=f"index it again with `rag index {row['source']} --store {store.location}`")
        document = Document(row["doc_id"], row["source"], detail["title"], text, json.loads(detail["meta"]))
        catalog.put(document, chunks.get(row["doc_id"], []), None)
    return catalog


def _texts(store, doc_ids: list[str]) -> dict[str, str]:
    parts: dict[str, list[tuple[int, str]]] = {}
    for batch in _batches(doc_ids, 256):
        for row in store.query_all("texts", _in("doc_id", batch), ["doc_id", "part", "text"]):
            parts.setdefault(row["doc_id"], []).append((row["part"], row["text"]))
    return {doc_id: "".join(text for _, text in sorted(pieces)) for doc_id, pieces in parts.items()}


def _chunks(store, documents: list[dict]) -> dict[str, list[Chunk]]:
    chunks: dict[str, list[Chunk]] = {}
    for batch in _batches(documents, 256):
        # By doc_id, the generation checked here: Milvus Lite 2.4 rejects long (doc_id == .. and gen == ..) chains.
        live = {r["doc_id"]: r["gen"] for r in batch}
        for row in store.query_all("chunks", _in("doc_id", live), ["chunk_id", "doc_id", "gen", "start", "end", "text"]):
            if row["gen"] == live[row["doc_id"]]:
                chunks.setdefault(row["doc_id"], []).append(Chunk(row["chunk_id"], row["doc_id"], row["start"],
                                                                  row["end"], row["text"]))
    for rows in chunks.values():
        rows.sort(key=lambda c: (c.start, c.end))
    return chunks
