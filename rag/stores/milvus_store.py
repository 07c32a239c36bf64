"""A Store in Milvus, through pymilvus's MilvusClient: `milvus:PATH.db` (Milvus Lite, embedded) or
`http://HOST:19530` (a standalone server or a cluster) — the same code.

Everything lives in Milvus, so every process pointed at one Milvus sees the same documents. Four collections, named
after a prefix (`rag` unless the location ends in `#PREFIX`):

    PREFIX_chunks      one row per chunk and generation: key, chunk_id, doc_id, gen, start, end, text, vector
    PREFIX_documents   one row per document version: key, source, doc_id, gen, deleted, title, meta, chars, centroid
    PREFIX_texts       document text in parts of at most TEXT_PART characters, by doc_id (text is immutable per id)
    PREFIX_meta        what the index was built with, and one row per committed generation

Generations without locks (Milvus has none): every write carries a generation number `gen` (nanoseconds since the
epoch when the writer started, so concurrent writers differ), and a generation becomes visible only when its commit
row is inserted — one row, atomically. A reader takes, for each source, the newest document row of a committed
generation (a `deleted` row hides the source) and the chunks written with it; rows of uncommitted generations are
never read, so a writer killed mid-way leaves nothing visible, and `cleanup` deletes its rows once they are
ABANDONED_AFTER old. Two writers of different documents both land; two writers of the same document: the later
commit wins. Superseded rows are deleted after each commit.

Lexical retrieval: where the server can compute BM25 itself (Milvus 2.5 and later, Lite included), the chunks and
texts collections are created with analyzed text and a BM25 function, and Milvus ranks them
(rag.stores.milvus_lexical); on older servers, and for collections created before, BM25 is built on the client from
the chunk texts read from Milvus (bm25s, as for folders) and kept in this machine's read cache (docs/scaling.md).
"""

from __future__ import annotations

import json
import re
import time
import zlib

import numpy as np

from rag.chunking import ChunkSettings
from rag.errors import IndexMismatchError, IndexNotFoundError, RagError
from rag.stores.base import IndexInfo, Store
from rag.stores.catalog import Catalog
from rag.stores.milvus_client import (DUMMY_DIM, _UNREACHABLE_HINT, MilvusUnavailableError, _call, _client_cache,
                                      _meta_json, _reason, collection_layouts, create_chunks_with_bm25, has_bm25)
from rag.stores.milvus_lexical import MilvusLexical
from rag.stores.milvus_vectors import BUCKETS, QUERY_LIMIT, INSERT_BATCH, MilvusVectorStore, _batches, _bucket, _in, _quote

TEXT_PART = 16_000  # characters; Milvus VARCHAR holds at most 65,535 bytes and a character is up to 4
ABANDONED_AFTER = 3600 * 10**9  # an uncommitted generation older than this (ns) is a crashed writer's: deleted
SCHEMA_VERSION = 1
MAX_FILTER_IDS = 20_000  # document ids in one filter expression (about 400 KB); past it the scope is ranked locally
_DOC_ID = re.compile(r"[0-9a-f]{16}")


class MilvusStore(Store):
    def __init__(self, where, info: IndexInfo, client, prefix: str):
        self.where = where
        self.location = str(where)
        self.info = info
        self.client = client
        self.prefix = prefix
        self.names = {part: f"{prefix}_{part}" for part in ("chunks", "documents", "texts", "meta")}
        self._catalog = Catalog()
        self._vector_index = MilvusVectorStore(self)
        self._doc_gen: dict[str, int] = {}  # doc_id -> generation its rows were written in
        self._committed: list[int] = []
        self._pending: int | None = None
        self._replacing: list[str] = []  # a rebuild: every source of the previous index, hidden at commit
        self._info_pending = False
        self.generation: str | None = None
        self.server_bm25 = False  # whether Milvus computes BM25 for this store's collections
        self._last_filter: tuple[frozenset[str], str | None] | None = None  # the last scope's doc_id filter
        self._server_lexical = MilvusLexical(self)

    # ----- connecting -------------------------------------------------------------------------------------------

    @staticmethod
    def _split(where) -> tuple[str, str]:
        target, _, prefix = where.target.partition("#")
        return target, prefix or "rag"

    @classmethod
    def _client(cls, where):
        target, _ = cls._split(where)
        try:
            import warnings

            with warnings.catch_warnings():  # milvus-lite imports pkg_resources, deprecated by setuptools
                warnings.simplefilter("ignore", UserWarning)
                from pymilvus import MilvusClient
        except ImportError as exc:  # pragma: no cover - pymilvus is a dependency
            raise MilvusUnavailableError("pymilvus is not installed", hint="pip install 'pymilvus==2.5.18'") from exc
        try:
            return _client_cache(target, MilvusClient)
        except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds for an unreachable server
            raise MilvusUnavailableError(f"cannot connect to Milvus at {target} ({_reason(exc)})",
                                         hint=_UNREACHABLE_HINT) from exc

    def call(self, method: str, *args, **kwargs):
        return _call(self.client, self.where, method, *args, **kwargs)

    @staticmethod
    def lock(where):
        """Milvus needs no lock: generations keep concurrent writers apart (module docstring)."""
        from contextlib import nullcontext

        return nullcontext()

    @classmethod
    def exists(cls, where) -> bool:
        client = cls._client(where)
        _, prefix = cls._split(where)
        if not _call(client, where, "has_collection", f"{prefix}_meta"):
            return False
        return bool(_call(client, where, "query", f"{prefix}_meta", filter='key like "commit-%"', output_fields=["key"],
                          limit=1, consistency_level="Strong"))

    @classmethod
    def built_with(cls, where) -> str | None:
        try:
            return cls._read_info(where).embedder_id
        except RagError:
            return None

    @classmethod
    def _read_info(cls, where) -> IndexInfo:
        client = cls._client(where)
        _, prefix = cls._split(where)
        rows = (_call(client, where, "query", f"{prefix}_meta", filter='key == "info"', output_fields=["value"],
                      consistency_level="Strong") if _call(client, where, "has_collection", f"{prefix}_meta") else [])
        if not rows:
            raise IndexNotFoundError(f"no index in {where}", hint="create one with `rag index PATH... --store LOCATION`")
        value = json.loads(rows[0]["value"])
        if value.get("schema_version") != SCHEMA_VERSION:
            raise IndexMismatchError(f"the Milvus index at {where} has schema {value.get('schema_version')}, "
                                     f"this program reads {SCHEMA_VERSION}",
                                     hint=f"rebuild it with `rag index --rebuild PATH... --store {where}`")
        return IndexInfo(value["embedder_id"], int(value["dimension"]), ChunkSettings(**value["chunking"]))

    @classmethod
    def create(cls, where, info: IndexInfo) -> "MilvusStore":
        """A store whose first commit replaces every document of an index at this location (a rebuild). Until that
        commit, readers keep the previous index and what it was built with."""
        client = cls._client(where)
        _, prefix = cls._split(where)
        previous = cls.open(where) if cls.exists(where) else None
        if previous is not None and previous.info.dimension != info.dimension:
            raise IndexMismatchError(
                f"the Milvus collections at {where} hold {previous.info.dimension}-d vectors, not {info.dimension}-d",
                hint=f"use another collection prefix (add #NAME to the location) or drop the `{prefix}_*` collections")
        store = cls(where, info, client, prefix)
        store._create_collections(write_info=previous is None)
        if previous is not None:
            store._committed, store._replacing, store._info_pending = previous._committed, previous.sources(), True
        return store

    @classmethod
    def open(cls, where) -> "MilvusStore":
        info = cls._read_info(where)
        _, prefix = cls._split(where)
        store = cls(where, info, cls._client(where), prefix)
        store.server_bm25 = has_bm25(store)
        store._load()
        return store

    # ----- schema -----------------------------------------------------------------------------------------------

    def _create_collections(self, *, write_info: bool) -> None:
        if self.call("has_collection", self.names["chunks"]):
            self.server_bm25 = has_bm25(self)
        else:
            self.server_bm25 = create_chunks_with_bm25(self)
        layouts = collection_layouts(self.info.dimension, self.server_bm25)

        def create(part: str) -> None:
            schema, index = layouts[part]
            if not self.call("has_collection", self.names[part]):
                self.call("create_collection", self.names[part], schema=schema, index_params=index,
                          consistency_level="Strong")

        # A server takes seconds to create and load each collection: the four are made at once.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(layouts)) as pool:
            list(pool.map(create, layouts))
        if write_info:
            self._write_info()

    def _write_info(self) -> None:
        self._put_meta("info", {"schema_version": SCHEMA_VERSION, "embedder_id": self.info.embedder_id,
                                "dimension": self.info.dimension, "chunking": self.info.chunking.as_dict()})

    def _put_meta(self, key: str, value: dict) -> None:
        self.call("upsert", self.names["meta"], data=[{"key": key, "bucket": _bucket(key), "value": json.dumps(value),
                                                       "vector": [0.0] * DUMMY_DIM}])

    # ----- reading ----------------------------------------------------------------------------------------------

    def query_all(self, part: str, filter: str, fields: list[str], low: int = 0, high: int = BUCKETS) -> list[dict]:
        """Every row matching `filter`, paged by bucket ranges when more than one query can return."""
        ranged = f"({filter}) and bucket >= {low} and bucket < {high}" if (low, high) != (0, BUCKETS) else filter
        rows = self.call("query", self.names[part], filter=ranged, output_fields=fields, limit=QUERY_LIMIT,
                         consistency_level="Strong")
        if len(rows) < QUERY_LIMIT or high - low == 1:
            return rows
        middle = (low + high) // 2
        return self.query_all(part, filter, fields, low, middle) + self.query_all(part, filter, fields, middle, high)

    def _commits(self) -> list[int]:
        rows = self.query_all("meta", 'key like "commit-%"', ["key"])
        return sorted(int(r["key"].split("-", 1)[1]) for r in rows)

    def visible_filter(self) -> str:
        return _in("gen", self._committed) if self._committed else "gen < 0"

    def is_current(self, doc_id: str, gen: int) -> bool:
        return self._doc_gen.get(doc_id) == gen

    def generation_of(self, doc_id: str) -> int | None:
        """The generation a document's rows were written in."""
        return self._doc_gen.get(doc_id)

    def _load(self) -> None:
        """What is visible: each source's newest committed document row. The catalog (texts, chunk offsets) and
        BM25 come from this machine's read cache of that state (rag.stores.milvus_cache)."""
        from rag.stores.milvus_cache import cached

        self._committed = self._commits()
        if not self._committed:
            raise IndexNotFoundError(f"no index in {self.location}", hint="create one with `rag index PATH... --store LOCATION`")
        self.generation = str(self._committed[-1])
        newest: dict[str, dict] = {}
        # Centroids stay in Milvus (dense_documents searches them there): reading them back is slow in Milvus Lite.
        for row in self.query_all("documents", self.visible_filter(), ["source", "doc_id", "gen", "deleted", "chars"]):
            if row["source"] not in newest or row["gen"] > newest[row["source"]]["gen"]:
                newest[row["source"]] = row
        live = sorted((row for row in newest.values() if not row["deleted"]), key=lambda r: (r["gen"], r["source"]))
        self._doc_gen = {row["doc_id"]: row["gen"] for row in live}
        self._catalog, self._lexical_index = cached(self, live)

    def is_stale(self) -> bool:
        return bool(set(self._commits()) - set(self._committed))

    def _dense_within(self, vectors: np.ndarray, k: int, doc_ids: frozenset[str],
                      chunks: int) -> list[list[tuple[str, float]]] | None:
        """The k best chunks of these documents only (a scoped question, `rag.scope`), ranked by Milvus itself
        under the scope's filter expression; None when it is too long for one (then the scope's fetched vectors
        are ranked exactly); `chunks` is how many chunks the scope holds."""
        condition = self._scope_filter(doc_ids)
        return None if condition is None else self._vector_index.search_where(vectors, min(k, chunks), condition)

    def _scope_filter(self, doc_ids: frozenset[str]) -> str | None:
        """The visible rows of these documents; None when the scope is too long for one expression."""
        ids = self._doc_id_filter(doc_ids)
        return None if ids is None else f"({self.visible_filter()}) and {ids}" if ids else self.visible_filter()

    def _doc_id_filter(self, doc_ids: frozenset[str]) -> str | None:
        """Rows of these documents: `doc_id in [...]`, or `not in` the complement when that is shorter. The ids
        come from this store's catalog (16 hex digits, checked) and are written as quoted literals, so nothing a
        person types reaches the expression. "" when that is every document; None when both lists are too long. Kept
        for the last scope asked: a scoped question's four rankings share it."""
        last = self._last_filter  # read once: another thread may ask another scope meanwhile
        if last is not None and last[0] == doc_ids:
            return last[1]
        inside = sorted(doc_ids)
        outside = sorted({doc_id for _, doc_id in self._catalog.entries()} - doc_ids)
        if not all(_DOC_ID.fullmatch(d) for d in inside + outside):
            raise ValueError("a scope names documents by the catalog's own ids")
        ids, operator = (inside, "in") if len(inside) <= len(outside) else (outside, "not in")
        condition = None if len(ids) > MAX_FILTER_IDS else (
            f"doc_id {operator} [{', '.join(_quote(d) for d in ids)}]" if ids or operator == "in" else "")
        self._last_filter = (doc_ids, condition)
        return condition

    def _changed(self) -> None:
        super()._changed()
        self._last_filter = None

    def lexical(self, queries, k: int, scope: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        """BM25 in Milvus where it computes it; otherwise (and for a scope too long for a filter) on the client."""
        condition = self.visible_filter() if scope is None else self._scope_filter(scope)
        if not self.server_bm25 or condition is None:
            return super().lexical(queries, k, scope)
        return self._server_lexical.chunks(queries, k, condition)

    def lexical_documents(self, queries, k: int,
                          scope: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        condition = "" if scope is None else self._doc_id_filter(scope)
        if not self.server_bm25 or condition is None:
            return super().lexical_documents(queries, k, scope)
        return self._server_lexical.documents(queries, k, condition)

    def dense_documents(self, vectors: np.ndarray, k: int,
                        scope: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        """Documents by their centroids, searched in Milvus (the documents collection holds them): no process
        keeps them."""
        count = self._catalog.document_count() if scope is None else len(scope)
        if count == 0 or k <= 0:
            return [[] for _ in range(len(vectors))]
        condition = self.visible_filter() if scope is None else self._scope_filter(scope)
        return self._vector_index.search_documents(vectors, min(k, count), condition, scope)

    # ----- writing ----------------------------------------------------------------------------------------------

    def pending_generation(self) -> int:
        if self._pending is None:
            self._pending = time.time_ns()
        return self._pending

    def commit(self) -> str:
        """Write the changed documents' rows, then the commit row (the one step that makes them visible), then
        delete what the new generation supersedes."""
        gen = self.pending_generation()
        changes = dict(self._catalog.changes)
        for source in self._replacing:
            changes.setdefault(source, None)
        rows, texts = [], []
        for source, document in changes.items():
            key = f"{zlib.crc32(source.encode('utf-8')):08x}:{source[-200:]}@{gen}"
            if document is None:
                rows.append({"key": key, "bucket": _bucket(key), "source": source, "doc_id": "", "gen": gen,
                             "deleted": True, "title": "", "meta": "{}", "chars": 0, "vector": [0.0] * self.info.dimension})
                continue
            centroid = self._catalog.centroid(document.doc_id)
            rows.append({"key": key, "bucket": _bucket(key), "source": source, "doc_id": document.doc_id, "gen": gen,
                         "deleted": False, "title": document.title[:1000], "meta": _meta_json(document.meta),
                         "chars": len(document.text),
                         "vector": (centroid if centroid is not None else np.zeros(self.info.dimension)).tolist()})
            texts.extend({"key": f"{document.doc_id}#{n}", "bucket": _bucket(document.doc_id), "doc_id": document.doc_id,
                          "part": n, "text": document.text[start : start + TEXT_PART], "vector": [0.0] * DUMMY_DIM}
                         for n, start in enumerate(range(0, max(1, len(document.text)), TEXT_PART)))
        for batch in _batches(texts, 64):
            self.call("upsert", self.names["texts"], data=batch)
        for batch in _batches(rows, INSERT_BATCH):
            self.call("insert", self.names["documents"], data=batch)
        if self._info_pending:  # a rebuild: what it was built with changes with the generation that needs it
            self._write_info()
            self._info_pending = False
        self._put_meta(f"commit-{gen}", {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        self._committed = sorted(set(self._committed) | {gen})
        self._doc_gen.update({d.doc_id: gen for d in changes.values() if d is not None})
        self.generation, self._pending, self._replacing = str(gen), None, []
        self._catalog.changes.clear()
        self.cleanup()
        return self.generation

    def cleanup(self) -> None:
        """Delete rows no committed generation reads any more, and rows of writers that died long ago."""
        entries = self._catalog.entries()
        live_doc_gens = {(doc_id, self._doc_gen.get(doc_id)) for _, doc_id in entries}
        newest = self._committed[-1] if self._committed else 0
        old_rows = self.query_all("documents", f"gen < {newest}", ["key", "doc_id", "gen", "source"])
        live_sources = {(source, self._doc_gen.get(doc_id)) for source, doc_id in entries}
        stale_docs = [r for r in old_rows if (r["source"], r["gen"]) not in live_sources]
        for batch in _batches([r["key"] for r in stale_docs], 256):
            self.call("delete", self.names["documents"], ids=batch)
        gone = {(r["doc_id"], r["gen"]) for r in stale_docs if r["doc_id"]} - live_doc_gens
        by_gen: dict[int, list[str]] = {}
        for doc_id, gen in sorted(gone):
            by_gen.setdefault(gen, []).append(doc_id)
        for gen, doc_ids in by_gen.items():  # one simple expression per generation (see _chunks)
            for batch in _batches(doc_ids, 256):
                self._delete_where("chunks", f"gen == {gen} and {_in('doc_id', batch)}")
        live_ids = {doc_id for doc_id, _ in live_doc_gens}
        dead_texts = {doc_id for doc_id, _ in gone} - live_ids
        for batch in _batches(sorted(dead_texts), 256):
            self._delete_where("texts", _in("doc_id", batch))
        abandoned = time.time_ns() - ABANDONED_AFTER
        uncommitted = f" and gen not in [{', '.join(map(str, self._committed))}]" if self._committed else ""
        for part in ("chunks", "documents"):
            self._delete_where(part, f"gen < {abandoned}{uncommitted}")

    def _delete_where(self, part: str, condition: str) -> None:
        """Delete by primary key what `condition` selects (Milvus Lite deletes by key or simple expressions only)."""
        keys = [row["key"] for row in self.query_all(part, condition, ["key"])]
        for batch in _batches(keys, 1024):
            self.call("delete", self.names[part], ids=batch)

    def describe(self) -> dict:
        counts = self._catalog.chunk_counts()
        return {"store": "milvus", "location": self.location, "generation": self.generation,
                "bm25": "milvus" if self.server_bm25 else "client",
                "embedder": {"id": self.info.embedder_id, "dimension": self.info.dimension},
                "chunking": self.info.chunking.as_dict(), "chunk_count": self._catalog.chunk_count(),
                "documents": {s: {"doc_id": d, "chunks": counts.get(d, 0)} for s, d in self._catalog.entries()}}

