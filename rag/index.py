"""FAISS vectors + chunk store + manifest in one folder, saved atomically and updated incrementally.

Layout of an index folder:

    CURRENT              name of the live generation, replaced atomically (os.replace) as the last step of a save
    gen-000007/          one complete generation: manifest.json, documents.jsonl, chunks.jsonl, vectors.faiss,
                         lexical/ (BM25), and the marker .rag-generation; the manifest records every file's size
                         and sha256
    .lock                held by the one process allowed to write

A save writes a new generation beside the live one, fsyncs every file and folder of it, and only then points CURRENT
at it, so a crash at any moment leaves the previous generation loadable; readers never see a mix. A live generation
whose files fail their checksums is passed over for the newest earlier one that passes, with a warning. Only folders
named exactly gen-NNNNNN that hold the marker are ever deleted. Row i of the FAISS index is chunk i of chunks.jsonl.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from rag.chunking import Chunker, ChunkSettings
from rag.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexRecoveredWarning,
)
from rag.hashing import file_sha256
from rag.types import Chunk, Document

FORMAT_VERSION = 1
CURRENT = "CURRENT"
GENERATION_NAME = re.compile(r"gen-\d{6}")
MARKER = ".rag-generation"  # written first into every generation folder this program creates
LOCK_WAIT_SECONDS = 30.0
# Exact search below this many chunks, HNSW from here on; chosen from `rag bench faiss` (README, performance).
ANN_THRESHOLD = 100_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 512
REBUILD_HINT = "rebuild it with `rag index --rebuild PATH... --index {folder}`"


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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_tree(folder: Path) -> None:
    """fsync every file, then every folder from the deepest up, so the whole tree is on disk before it is pointed at."""
    folders = [folder]
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            folders.append(path)
        elif path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for path in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        _fsync_dir(path)


def own_generations(folder: Path) -> list[str]:
    """Generation folders this program made (exact name and marker), oldest first. Nothing else is ever deleted."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and GENERATION_NAME.fullmatch(p.name) and ((p / MARKER).is_file() or _legacy(p)))


def _legacy(gen_dir: Path) -> bool:
    """A generation written before the marker existed: its manifest says so (format version and file checksums)."""
    try:
        manifest = json.loads((gen_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format_version") == FORMAT_VERSION and "files" in manifest


def _storage_view(faiss_index):
    """The vectors a flat or HNSW FAISS index stores, as a numpy view of its memory (no copy); None for others."""
    import faiss

    flat = faiss.downcast_index(faiss_index.storage) if hasattr(faiss_index, "hnsw") else faiss_index
    if not isinstance(flat, faiss.IndexFlat) or not flat.ntotal:
        return None
    return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)


def _jsonl(rows) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


class Index:
    """An in-memory index; `load` reads the live generation, `save` writes a new one."""

    def __init__(self, folder: str | Path, *, embedder_id: str, dimension: int, chunking: ChunkSettings):
        self.folder = Path(folder)
        self.embedder_id = embedder_id
        self.dimension = dimension
        self.chunking = chunking
        self.documents: dict[str, Document] = {}  # source -> document
        self.chunks: list[Chunk] = []
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        self._vectors_owner = None  # the FAISS index whose memory _vectors views, kept alive as long as the view
        self._faiss = None
        self._lexical = None
        self._lexical_docs = None
        self._centroids = None
        self._doc_order: list[str] | None = None
        self._chunk_doc_ids: list[str] | None = None
        self._by_id: dict[str, Document] | None = None
        self.generation: str | None = None

    # ----- reading -----------------------------------------------------------------------------------------

    @staticmethod
    def exists(folder: str | Path) -> bool:
        return (Path(folder) / CURRENT).is_file()

    @staticmethod
    def built_with(folder: str | Path) -> str | None:
        """The embedder id in the live manifest, or None when there is no readable one (load() says why)."""
        try:
            generation = (Path(folder) / CURRENT).read_text(encoding="utf-8").strip()
            manifest = json.loads((Path(folder) / generation / "manifest.json").read_text(encoding="utf-8"))
            return str(manifest["embedder"]["id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def load(cls, folder: str | Path) -> "Index":
        """The live generation. A save that lands while we read (and removes what we were reading) is retried; a live
        generation that fails its checks gives way to the newest earlier one that passes them, with a warning."""
        folder = Path(folder)
        for _ in range(3):
            generation = cls._current(folder)
            try:
                return cls._load(folder, generation)
            except IndexCorruptError as error:
                if cls._current(folder) != generation:
                    continue  # a save switched CURRENT while we read: read the new generation
                return cls._fall_back(folder, generation, error)
        return cls._load(folder, cls._current(folder))

    @staticmethod
    def _current(folder: Path) -> str | None:
        try:
            return (folder / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    @classmethod
    def _fall_back(cls, folder: Path, broken: str | None, error: IndexCorruptError) -> "Index":
        for name in reversed(own_generations(folder)):
            if broken is not None and name >= broken:
                continue
            try:
                index = cls._load(folder, name)
            except (IndexCorruptError, IndexMismatchError):
                continue
            warnings.warn(IndexRecoveredWarning(
                f"the index in {folder} could not use its live generation {broken} ({error}); using the earlier "
                f"generation {name} instead. Documents indexed after it are missing: run `rag index` on them again "
                f"(the next save replaces the damaged generation)."), stacklevel=3)
            return index
        raise error

    @classmethod
    def _load(cls, folder: Path, generation: str | None) -> "Index":
        hint = REBUILD_HINT.format(folder=folder)
        if generation is None:
            raise IndexNotFoundError(f"no index in {folder}", hint="create one with `rag index PATH... --index DIR`")
        gen_dir = folder / generation
        manifest_path = gen_dir / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"index file {manifest_path} is missing", hint=hint) from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"index file {manifest_path} is corrupted ({exc})", hint=hint) from exc
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index in {folder} has format version {manifest.get('format_version')}, this program reads {FORMAT_VERSION}",
                hint=hint,
            )
        for name, expected in manifest["files"].items():
            path = gen_dir / name
            if not path.is_file():
                raise IndexCorruptError(f"index file {path} is missing", hint=hint)
            if path.stat().st_size != expected["bytes"] or file_sha256(path) != expected["sha256"]:
                raise IndexCorruptError(f"index file {path} is truncated or corrupted (checksum mismatch)", hint=hint)
        index = cls(
            folder,
            embedder_id=manifest["embedder"]["id"],
            dimension=int(manifest["embedder"]["dimension"]),
            chunking=ChunkSettings(**manifest["chunking"]),
        )
        index.generation = generation
        try:
            for line in (gen_dir / "documents.jsonl").read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                index.documents[row["source"]] = Document(**row)
            index.chunks = [Chunk(**json.loads(line)) for line in (gen_dir / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
            import faiss

            index._faiss = faiss.read_index(str(gen_dir / "vectors.faiss"))
            index._adopt_storage(index._faiss)
            from rag.lexical import LexicalIndex

            index._lexical = LexicalIndex.load(gen_dir / "lexical")
            if (gen_dir / "lexical-docs").is_dir():  # else built on first use
                index._lexical_docs = LexicalIndex.load(gen_dir / "lexical-docs")
        except (json.JSONDecodeError, TypeError, KeyError, RuntimeError, ValueError, OSError) as exc:
            raise IndexCorruptError(f"index in {gen_dir} cannot be read ({exc})", hint=hint) from exc
        if index._faiss.ntotal != len(index.chunks) or index._faiss.d != index.dimension:
            raise IndexCorruptError(f"index in {gen_dir} has {index._faiss.ntotal} vectors for {len(index.chunks)} chunks", hint=hint)
        return index

    def check_embedder(self, embedder_id: str, dimension: int | None = None) -> None:
        """Refuse to mix vectors from different models: their similarities mean nothing together."""
        if embedder_id != self.embedder_id or (dimension is not None and dimension != self.dimension):
            built = f"{self.embedder_id} ({self.dimension}-d)"
            now = embedder_id + (f" ({dimension}-d)" if dimension is not None else "")
            raise IndexMismatchError(
                f"index in {self.folder} was built with embedder {built}, not {now}",
                hint=f"use --embedder {self.embedder_id}, or {REBUILD_HINT.format(folder=self.folder)}",
            )

    @property
    def faiss_index(self):
        if self._faiss is None:
            import faiss

            self._faiss = build_vector_index(self._vectors) if len(self._vectors) else faiss.IndexFlatIP(self.dimension)
            self._adopt_storage(self._faiss)
        return self._faiss

    def _adopt_storage(self, faiss_index) -> None:
        """Keep one copy of the vectors: FAISS's own, which _vectors then views (IVF and others keep their copy)."""
        view = _storage_view(faiss_index)
        if view is not None:
            self._vectors, self._vectors_owner = view, faiss_index
        elif faiss_index.ntotal:
            self._vectors, self._vectors_owner = faiss_index.reconstruct_n(0, faiss_index.ntotal), None

    def search(self, query_vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """For each query vector, up to k (row, inner product) pairs, best first."""
        if not self.chunks or k <= 0:
            return [[] for _ in range(len(query_vectors))]
        index, depth = self.faiss_index, min(k, len(self.chunks))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = max(HNSW_EF_SEARCH, 2 * depth)  # recall of the deepest neighbours needs room
        scores, rows = index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), depth)
        return [[(int(r), float(s)) for r, s in zip(rr, ss) if r >= 0] for rr, ss in zip(rows, scores)]

    @property
    def lexical(self):
        if self._lexical is None:
            from rag.lexical import LexicalIndex

            self._lexical = LexicalIndex.build([c.text for c in self.chunks])
        return self._lexical

    @property
    def doc_order(self) -> list[str]:
        """Document ids in the order of the document-level indexes (BM25 over whole documents, centroids)."""
        if self._doc_order is None:
            self._doc_order = [doc.doc_id for doc in self.documents.values()]
        return self._doc_order

    @property
    def chunk_doc_ids(self) -> list[str]:
        """The document id of each row."""
        if self._chunk_doc_ids is None:
            self._chunk_doc_ids = [chunk.doc_id for chunk in self.chunks]
        return self._chunk_doc_ids

    @property
    def lexical_docs(self):
        """BM25 over whole documents: a chunk's document as context for ranking the chunk."""
        if self._lexical_docs is None:
            from rag.lexical import LexicalIndex

            self._lexical_docs = LexicalIndex.build([doc.text for doc in self.documents.values()])
        return self._lexical_docs

    def search_documents(self, query_vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Dense search over document centroids (the normalised mean of each document's chunk vectors)."""
        if self._centroids is None:
            rows: dict[str, list[int]] = {}
            for row, chunk in enumerate(self.chunks):
                rows.setdefault(chunk.doc_id, []).append(row)
            centroids = np.zeros((len(self.documents), self.dimension), dtype=np.float32)
            for position, doc_id in enumerate(self.doc_order):
                if rows.get(doc_id):
                    mean = self._vectors[rows[doc_id]].mean(axis=0)
                    centroids[position] = mean / (np.linalg.norm(mean) or 1.0)
            self._centroids = centroids
        if not len(self._centroids) or k <= 0:
            return [[] for _ in range(len(query_vectors))]
        scores = np.asarray(query_vectors, dtype=np.float32) @ self._centroids.T
        k = min(k, scores.shape[1])
        results = []
        for row in scores:
            top = np.argpartition(-row, k - 1)[:k]
            top = top[np.argsort(-row[top])]
            results.append([(int(i), float(row[i])) for i in top])
        return results

    def document(self, doc_id: str) -> Document:
        if self._by_id is None or len(self._by_id) != len(self.documents):
            self._by_id = {doc.doc_id: doc for doc in self.documents.values()}
        return self._by_id[doc_id]

    def chunk_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for chunk in self.chunks:
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        return counts

    # ----- changing ----------------------------------------------------------------------------------------

    def _drop_doc_ids(self, doc_ids: set[str]) -> None:
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id not in doc_ids]
        if len(keep) == len(self.chunks):
            return
        self.chunks = [self.chunks[i] for i in keep]
        self._vectors = self._vectors[keep] if len(keep) else np.zeros((0, self.dimension), dtype=np.float32)
        self._vectors_owner = None  # a copy now: the FAISS index it viewed may go
        self._invalidate()

    def _invalidate(self) -> None:
        """Forget everything derived from the chunks and documents; each is rebuilt on first use."""
        self._faiss = None
        self._lexical = None
        self._lexical_docs = None
        self._centroids = None
        self._doc_order = None
        self._chunk_doc_ids = None
        self._by_id = None

    def remove(self, source: str) -> Document:
        """Remove one document by its source path (or a unique file name)."""
        key = self.find_source(source)
        doc = self.documents.pop(key)
        self._drop_doc_ids({doc.doc_id})
        self._invalidate()
        return doc

    def find_source(self, source: str) -> str:
        if source in self.documents:
            return source
        absolute = str(Path(source).expanduser().resolve())
        if absolute in self.documents:
            return absolute
        by_name = [s for s in self.documents if Path(s).name == source]
        if len(by_name) == 1:
            return by_name[0]
        from rag.errors import LoadError

        if len(by_name) > 1:
            raise LoadError(f"'{source}' matches {len(by_name)} documents", hint="give the full path shown by `rag list`")
        raise LoadError(f"'{source}' is not in the index at {self.folder}", hint="see what is indexed with `rag list`")

    def upsert(
        self,
        documents: Sequence[Document],
        chunker: Chunker,
        embed: Callable[[list[str]], np.ndarray],
        *,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> UpdateReport:
        """Add new documents and replace changed ones; unchanged documents (same source and hash) embed nothing."""
        report = UpdateReport()
        by_hash = {doc.doc_id: source for source, doc in self.documents.items()}
        todo: list[Document] = []
        for doc in documents:
            old = self.documents.get(doc.source)
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
        new_chunks = [chunk for doc in todo for chunk in chunker.chunk(doc)]
        vectors = []
        batch = 256
        for start in range(0, len(new_chunks), batch):
            vectors.append(embed([c.text for c in new_chunks[start : start + batch]]))
            if on_progress:
                on_progress(min(start + batch, len(new_chunks)), len(new_chunks))
        # Only now, with every embedding computed, touch the in-memory index: a failure above changes nothing.
        replaced_ids = {self.documents[s].doc_id for s in report.replaced}
        # Rows are only appended when nothing is replaced: an HNSW graph then grows in place instead of being rebuilt
        # (a rebuild takes about 50 s at 100,000 vectors; exact indexes are rebuilt, which costs next to nothing).
        growing = self._faiss if not replaced_ids and self._faiss is not None and hasattr(self._faiss, "hnsw") else None
        self._drop_doc_ids(replaced_ids)
        for doc in todo:
            self.documents[doc.source] = doc
        if new_chunks:
            stacked = np.vstack(vectors).astype(np.float32)
            if stacked.shape[1] != self.dimension:
                raise IndexMismatchError(
                    f"embedder returned {stacked.shape[1]}-d vectors for an index of {self.dimension}-d",
                    hint=REBUILD_HINT.format(folder=self.folder),
                )
            self.chunks.extend(new_chunks)
            self._vectors = np.vstack([self._vectors, stacked])
            self._vectors_owner = None
        self._invalidate()
        if growing is not None:
            if new_chunks:
                growing.add(stacked)
            self._faiss = growing
            self._adopt_storage(growing)
        report.chunks_embedded = len(new_chunks)
        return report

    # ----- saving ------------------------------------------------------------------------------------------

    def save(self) -> str:
        """Write a new generation, then switch CURRENT to it atomically. Returns the generation's name."""
        import faiss

        self.folder.mkdir(parents=True, exist_ok=True)
        existing = own_generations(self.folder)
        taken = sorted(p.name for p in self.folder.iterdir() if GENERATION_NAME.fullmatch(p.name))
        number = int(taken[-1].split("-")[1]) + 1 if taken else 1
        name = f"gen-{number:06d}"
        gen_dir = self.folder / name
        gen_dir.mkdir()
        _write_file(gen_dir / MARKER, b"written by rag; this folder is deleted when two newer generations exist\n")
        counts = self.chunk_counts()
        _write_file(gen_dir / "documents.jsonl", _jsonl(asdict(d) for d in self.documents.values()))
        _write_file(gen_dir / "chunks.jsonl", _jsonl(asdict(c) for c in self.chunks))
        faiss.write_index(self.faiss_index, str(gen_dir / "vectors.faiss"))
        self.lexical.save(gen_dir / "lexical")
        self.lexical_docs.save(gen_dir / "lexical-docs")
        files = {}
        for path in sorted(p for p in gen_dir.rglob("*") if p.is_file() and p.name != MARKER):
            files[str(path.relative_to(gen_dir))] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
        manifest = {
            "format_version": FORMAT_VERSION,
            "embedder": {"id": self.embedder_id, "dimension": self.dimension},
            "chunking": self.chunking.as_dict(),
            "index_type": "hnsw-ip" if hasattr(self.faiss_index, "hnsw") else "flat-ip",
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "documents": {
                source: {
                    "doc_id": doc.doc_id,
                    "title": doc.title,
                    "chars": len(doc.text),
                    "chunks": counts.get(doc.doc_id, 0),
                    "size_bytes": doc.meta.get("size_bytes"),
                }
                for source, doc in self.documents.items()
            },
            "chunk_count": len(self.chunks),
            "files": files,
        }
        _write_file(gen_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        _fsync_tree(gen_dir)  # FAISS and BM25 write their own files: nothing is pointed at before all is on disk
        pointer = self.folder / f"{CURRENT}.tmp"
        _write_file(pointer, name.encode("utf-8"))
        os.replace(pointer, self.folder / CURRENT)
        _fsync_dir(self.folder)
        previous, self.generation = self.generation, name
        # Keep the generation readers may still be loading; drop older ones and leftovers of crashed saves.
        for old in existing:
            if old != previous:
                shutil.rmtree(self.folder / old, ignore_errors=True)
        return name

    def manifest(self) -> dict:
        if not self.generation:
            return {}
        return json.loads((self.folder / self.generation / "manifest.json").read_text(encoding="utf-8"))


@contextmanager
def locked(folder: str | Path, *, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the folder's write lock; a second writer waits, then fails clearly instead of corrupting anything."""
    from filelock import FileLock, Timeout

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / ".lock"))
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout as exc:
        raise IndexBusyError(
            f"another process is writing the index in {folder} (waited {wait_seconds:.0f} s)",
            hint="wait for it to finish and run the command again",
        ) from exc
    try:
        yield
    finally:
        lock.release()


def build_vector_index(vectors: np.ndarray, kind: str | None = None):
    """A FAISS inner-product index over `vectors`: exact below ANN_THRESHOLD rows, HNSW above (or `kind`)."""
    import faiss

    count, dimension = vectors.shape
    kind = kind or ("hnsw" if count >= ANN_THRESHOLD else "flat")
    if kind == "flat":
        index = faiss.IndexFlatIP(dimension)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind == "ivf":
        lists = max(1, int(4 * count**0.5))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(count, size=min(count, 64 * lists), replace=False)
        index.train(vectors[sample])
        index.nprobe = 16
    else:
        raise ValueError(f"unknown vector index kind {kind!r}")
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def open_or_create(folder: str | Path, *, embedder_id: str, dimension: int, chunking: ChunkSettings | None = None,
                   rebuild: bool = False) -> Index:
    """The live index of `folder`, checked against the embedder and, when given, the chunk settings; a new empty one
    if there is none (or on rebuild). Chunks cut two ways would make one index rank unevenly, so a change is refused
    like a changed embedder; without `chunking` an existing index keeps its own."""
    if Index.exists(folder) and not rebuild:
        index = Index.load(folder)
        index.check_embedder(embedder_id, dimension)
        if chunking is not None and chunking != index.chunking:
            built, asked = index.chunking, chunking
            raise IndexMismatchError(
                f"index in {folder} cuts chunks of {built.chunk_tokens} tokens with {built.overlap_tokens} overlapping, "
                f"not {asked.chunk_tokens} with {asked.overlap_tokens}",
                hint=f"leave out --chunk-tokens/--overlap-tokens to keep the index's own, or add --rebuild to re-cut "
                     f"every document (their vectors are computed again)",
            )
        return index
    index = Index(folder, embedder_id=embedder_id, dimension=dimension, chunking=chunking or ChunkSettings())
    index.generation = Index._current(Path(folder))
    return index
