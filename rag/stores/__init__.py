"""Where an index lives, behind one seam: `open_store(location)` gives a Store (rag.stores.base) for

- a folder (the default; `faiss:DIR` says so explicitly): FAISS vectors, catalog and BM25 on local disk
  (rag.stores.folder, rag.stores.faiss_store);
- `milvus:PATH.db`: Milvus Lite, embedded, one local file (rag.stores.milvus_store);
- `http://HOST:19530` (or https): a Milvus standalone server or cluster, shared by every process pointed at it.

Everything above this package (indexer, retrieval, assistant, CLI, UI) sees only `Store` (rag.stores.base): its
catalog, vector index and BM25 are private to each backend.
"""

from __future__ import annotations

from pathlib import Path

from rag.chunking import ChunkSettings
from rag.errors import IndexMismatchError, RagError
from rag.stores.base import IndexInfo, Store

__all__ = ["IndexInfo", "Store", "StoreLocation", "open_store", "open_for_writing",
           "store_exists", "built_with"]


class StoreLocation:
    """A parsed --store value: kind is "folder" or "milvus"; target is the folder, the .db file or the server URI."""

    def __init__(self, value: str | Path):
        text = str(value).strip()
        if not text:
            raise RagError("empty store location", hint="give a folder, milvus:PATH.db or http://HOST:19530")
        if text.startswith("milvus:"):
            path = text[len("milvus:"):]
            if not path.endswith(".db"):
                raise RagError(f"Milvus Lite file '{path}' does not end in .db",
                               hint="name it like milvus:./index.db; Milvus Lite files end in .db")
            self.kind, self.target = "milvus", str(Path(path).expanduser().resolve())
        elif text.startswith(("http://", "https://", "tcp://", "unix:")):
            self.kind, self.target = "milvus", text
        else:
            self.kind = "folder"
            self.target = str(Path(text[len("faiss:"):] if text.startswith("faiss:") else text).expanduser())

    def __str__(self) -> str:
        return self.target if self.kind == "folder" else ("milvus:" + self.target if not self.is_server else self.target)

    @property
    def is_server(self) -> bool:
        return self.kind == "milvus" and self.target.startswith(("http://", "https://", "tcp://", "unix:"))


def _location(value) -> StoreLocation:
    return value if isinstance(value, StoreLocation) else StoreLocation(value)


# Each kind of location and the class that keeps an index there: the one place store kinds are named. A class
# gives exists(target), built_with(target), open(target), create(target, info) and lock(target) for its kind's target (a folder
# path, or the parsed Milvus location).
_KINDS = {"folder": ("rag.stores.folder", "FolderStore"), "milvus": ("rag.stores.milvus_store", "MilvusStore")}


def _backend(value):
    """(the Store class for this location, the target it takes)."""
    import importlib

    where = _location(value)
    module, name = _KINDS[where.kind]
    return getattr(importlib.import_module(module), name), (where.target if where.kind == "folder" else where)


def store_exists(location) -> bool:
    kind, target = _backend(location)
    return kind.exists(target)


def built_with(location) -> str | None:
    """The embedder id the index at `location` was built with, or None when there is none (open_store says why)."""
    kind, target = _backend(location)
    return kind.built_with(target)


def open_store(location) -> Store:
    """The live generation of the index at `location`; IndexNotFoundError when there is none."""
    kind, target = _backend(location)
    return kind.open(target)


def new_store(location, info: IndexInfo) -> Store:
    """An empty store at `location`; its first commit replaces whatever index was there."""
    kind, target = _backend(location)
    return kind.create(target, info)


def check_embedder(store: Store, embedder_id: str, dimension: int | None = None) -> None:
    """Refuse to mix vectors from different models: their similarities mean nothing together."""
    info = store.info
    if embedder_id != info.embedder_id or (dimension is not None and dimension != info.dimension):
        built = f"{info.embedder_id} ({info.dimension}-d)"
        now = embedder_id + (f" ({dimension}-d)" if dimension is not None else "")
        raise IndexMismatchError(
            f"index in {store.location} was built with embedder {built}, not {now}",
            hint=f"use --embedder {info.embedder_id}, or rebuild it with `rag index --rebuild PATH... --store {store.location}`",
        )


def open_for_writing(location, *, embedder_id: str, dimension: int, chunking: ChunkSettings | None = None,
                     rebuild: bool = False) -> Store:
    """The live index at `location`, checked against the embedder and, when given, the chunk settings; a new empty
    one if there is none (or on rebuild). Chunks cut two ways would make one index rank unevenly, so a change is
    refused like a changed embedder; without `chunking` an existing index keeps its own."""
    if store_exists(location) and not rebuild:
        store = open_store(location)
        check_embedder(store, embedder_id, dimension)
        built = store.info.chunking
        if chunking is not None and chunking != built:
            raise IndexMismatchError(
                f"index in {store.location} cuts chunks of {built.chunk_tokens} tokens with {built.overlap_tokens} "
                f"overlapping, not {chunking.chunk_tokens} with {chunking.overlap_tokens}",
                hint="leave out --chunk-tokens/--overlap-tokens to keep the index's own, or add --rebuild to re-cut "
                     "every document (their vectors are computed again)",
            )
        return store
    return new_store(location, IndexInfo(embedder_id, dimension, chunking or ChunkSettings()))


def writing(location):
    """Held while one process writes: a folder's file lock; Milvus stores need none (see rag.stores.milvus_store)."""
    kind, target = _backend(location)
    return kind.lock(target)


def copy_index(source, target, *, on_progress=None) -> int:
    """Copy every document of the index at `source` into `target` with its chunks and stored vectors (nothing is
    embedded again), as one generation of `target`. Returns the number of chunks copied."""
    origin = open_store(source)
    destination = open_for_writing(target, embedder_id=origin.info.embedder_id, dimension=origin.info.dimension,
                                   chunking=origin.info.chunking if not store_exists(target) else None)
    documents = origin.documents()
    copied = 0
    for number, document in enumerate(documents, start=1):
        chunks = origin.chunks(document.doc_id)
        destination.write(document, chunks, origin.vectors([c.chunk_id for c in chunks]), origin.centroid(document.doc_id))
        copied += len(chunks)
        if on_progress:
            on_progress(number, len(documents))
    destination.commit()
    return copied
