"""The embedded store: catalog, FAISS vectors and BM25 in one folder, saved as whole generations.

Layout of an index folder:

    CURRENT              name of the live generation, replaced atomically (os.replace) as the last step of a commit
    gen-000007/          one complete generation: manifest.json, catalog.sqlite (documents and chunk offsets, read
                         by key), centroids.npy, vectors.faiss (+ vectors.ivfdata, delta.faiss, tombstones.npy on
                         disk), vector ids, lexical/ (BM25), and the marker .rag-generation; the manifest records
                         every file's size and sha256
    .lock                held by the one process allowed to write

A commit writes a new generation beside the live one, fsyncs every file and folder of it, and only then points CURRENT
at it, so a crash at any moment leaves the previous generation loadable; readers never see a mix. A live generation
whose files fail their checksums is passed over for the newest earlier one that passes, with a warning. Only folders
named exactly gen-NNNNNN that hold the marker are ever deleted. Files above HASH_SAMPLE_ABOVE bytes (an on-disk
vector base) are checked by size and a hash of sampled blocks, so opening a large index does not read it all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from rag.arrays import load
from rag.chunking import ChunkSettings
from rag.errors import IndexBusyError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, IndexRecoveredWarning
from rag.hashing import file_sha256
from rag.stores.base import IndexInfo, Store, centroid
from rag.stores.catalog import Catalog
from rag.stores.sqlite_catalog import SqliteCatalog, write_catalog
from rag.stores.faiss_store import FaissVectorStore
from rag.types import Chunk, Document

# 1: vectors by row number, no centroids; 2: catalog as JSON lines held in memory (both read, and upgraded on the
# next commit); 3: catalog in SQLite, read by key.
FORMAT_VERSION = 3
CURRENT = "CURRENT"
GENERATION_NAME = re.compile(r"gen-\d{6}")
MARKER = ".rag-generation"  # written first into every generation folder this program creates
LOCK_WAIT_SECONDS = 30.0
HASH_SAMPLE_ABOVE = 256 * 2**20
REBUILD_HINT = "rebuild it with `rag index --rebuild PATH... --index {folder}`"


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


def _digest(path: Path) -> str:
    size = path.stat().st_size
    if size <= HASH_SAMPLE_ABOVE:
        return file_sha256(path)
    import hashlib

    digest, block = hashlib.sha256(), 2**20
    with open(path, "rb") as handle:
        for offset in sorted({0, size - block, *range(0, size, 64 * block)}):
            handle.seek(max(0, offset))
            digest.update(handle.read(block))
    return "sampled:" + digest.hexdigest()


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
    return isinstance(manifest, dict) and manifest.get("format_version") == 1 and "files" in manifest


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def current(folder: Path) -> str | None:
    try:
        return (folder / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


class FolderStore(Store):
    """A Store in a local folder (see the module docstring). `open` reads the live generation; `commit` writes one."""

    def __init__(self, folder: str | Path, info: IndexInfo):
        self.folder = Path(folder)
        self.location = str(self.folder)
        self.info = info
        self._catalog = Catalog()
        self._vector_index = FaissVectorStore(info.dimension)
        self.generation: str | None = current(self.folder)

    @classmethod
    def create(cls, folder: str | Path, info: IndexInfo) -> "FolderStore":
        """An empty store whose first commit replaces whatever index the folder held."""
        return cls(folder, info)

    @staticmethod
    def lock(folder: str | Path):
        return locked(folder)

    @staticmethod
    def exists(folder: str | Path) -> bool:
        return (Path(folder) / CURRENT).is_file()

    @staticmethod
    def built_with(folder: str | Path) -> str | None:
        """The embedder id in the live manifest, or None when there is no readable one (open() says why)."""
        try:
            manifest = json.loads((Path(folder) / current(Path(folder)) / "manifest.json").read_text(encoding="utf-8"))
            return str(manifest["embedder"]["id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    # ----- reading -----------------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: str | Path) -> "FolderStore":
        """The live generation. A commit that lands while we read (and removes what we were reading) is retried; a
        live generation that fails its checks gives way to the newest earlier one that passes them, with a warning."""
        folder = Path(folder)
        for _ in range(3):
            generation = current(folder)
            try:
                return cls._open(folder, generation)
            except IndexCorruptError as error:
                if current(folder) != generation:
                    continue  # a commit switched CURRENT while we read: read the new generation
                return cls._fall_back(folder, generation, error)
        return cls._open(folder, current(folder))

    @classmethod
    def _fall_back(cls, folder: Path, broken: str | None, error: IndexCorruptError) -> "FolderStore":
        for name in reversed(own_generations(folder)):
            if broken is not None and name >= broken:
                continue
            try:
                store = cls._open(folder, name)
            except (IndexCorruptError, IndexMismatchError):
                continue
            warnings.warn(IndexRecoveredWarning(
                f"the index in {folder} could not use its live generation {broken} ({error}); using the earlier "
                f"generation {name} instead. Documents indexed after it are missing: run `rag index` on them again "
                f"(the next save replaces the damaged generation)."), stacklevel=3)
            return store
        raise error

    @classmethod
    def _open(cls, folder: Path, generation: str | None) -> "FolderStore":
        hint = REBUILD_HINT.format(folder=folder)
        if generation is None:
            raise IndexNotFoundError(f"no index in {folder}", hint="create one with `rag index PATH... --index DIR`")
        gen_dir = folder / generation
        manifest = cls._checked_manifest(gen_dir, hint)
        info = IndexInfo(manifest["embedder"]["id"], int(manifest["embedder"]["dimension"]),
                         ChunkSettings(**manifest["chunking"]))
        store = cls(folder, info)
        store.generation = generation
        try:
            if manifest["format_version"] == 1:
                store._read_first_format(gen_dir)
            elif manifest["format_version"] == 2:
                store._read_second_format(gen_dir)
            else:
                store._read(gen_dir)
        except (json.JSONDecodeError, TypeError, KeyError, RuntimeError, ValueError, OSError, sqlite3.Error) as exc:
            raise IndexCorruptError(f"index in {gen_dir} cannot be read ({exc})", hint=hint) from exc
        return store

    @staticmethod
    def _checked_manifest(gen_dir: Path, hint: str) -> dict:
        manifest_path = gen_dir / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"index file {manifest_path} is missing", hint=hint) from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"index file {manifest_path} is corrupted ({exc})", hint=hint) from exc
        if manifest.get("format_version") not in (1, 2, FORMAT_VERSION):
            raise IndexMismatchError(
                f"index in {gen_dir.parent} has format version {manifest.get('format_version')}, this program reads "
                f"1 to {FORMAT_VERSION}", hint=hint)
        for name, expected in manifest["files"].items():
            path = gen_dir / name
            if not path.is_file():
                raise IndexCorruptError(f"index file {path} is missing", hint=hint)
            if path.stat().st_size != expected["bytes"] or _digest(path) != expected["sha256"]:
                raise IndexCorruptError(f"index file {path} is truncated or corrupted (checksum mismatch)", hint=hint)
        return manifest

    def _read(self, gen_dir: Path) -> None:
        """The catalog stays in catalog.sqlite (read by key), the vectors and BM25 are memory-mapped."""
        from rag.lexical import Lexical

        self._catalog = SqliteCatalog(gen_dir)
        self._vector_index = FaissVectorStore.read(gen_dir, self.info.dimension)
        if self._vector_index.count() != self._catalog.chunk_count():
            raise ValueError(f"{self._vector_index.count()} vectors for {self._catalog.chunk_count()} chunks")
        self._lexical_index = Lexical.load(gen_dir / "lexical")

    def _read_second_format(self, gen_dir: Path) -> None:
        """Format 2 kept the catalog as JSON lines: read into memory; the next commit writes format 3."""
        from rag.lexical import Lexical

        by_doc: dict[str, list[Chunk]] = {}
        for row in _read_jsonl(gen_dir / "chunks.jsonl"):
            by_doc.setdefault(row["doc_id"], []).append(Chunk(**row))
        order = json.loads((gen_dir / "centroid-ids.json").read_text(encoding="utf-8"))
        matrix = load(gen_dir / "centroids.npy")
        centroids = dict(zip(order, matrix))
        for row in _read_jsonl(gen_dir / "documents.jsonl"):
            doc = Document(**row)
            self._catalog.put(doc, by_doc.get(doc.doc_id, []), centroids.get(doc.doc_id))
        self._vector_index = FaissVectorStore.read(gen_dir, self.info.dimension)
        if self._vector_index.count() != self._catalog.chunk_count():
            raise ValueError(f"{self._vector_index.count()} vectors for {self._catalog.chunk_count()} chunks")
        self._lexical_index = Lexical.load(gen_dir / "lexical")

    def _read_first_format(self, gen_dir: Path) -> None:
        """Format 1 kept vectors by row (row i = chunk i): read them by chunk_id; the next commit writes format 2."""
        import faiss

        chunks = [Chunk(**row) for row in _read_jsonl(gen_dir / "chunks.jsonl")]
        index = faiss.read_index(str(gen_dir / "vectors.faiss"))
        if index.ntotal != len(chunks) or index.d != self.info.dimension:
            raise ValueError(f"{index.ntotal} vectors for {len(chunks)} chunks")
        vectors = index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), dtype=np.float32)
        self._vector_index.upsert(chunks, vectors)
        rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(chunks):
            rows.setdefault(chunk.doc_id, []).append(row)
        for row in _read_jsonl(gen_dir / "documents.jsonl"):
            doc = Document(**row)
            mine = rows.get(doc.doc_id, [])
            self._catalog.put(doc, [chunks[i] for i in mine], centroid(vectors[mine]) if mine else None)

    # ----- what retrieval reads ----------------------------------------------------------------------------

    def is_stale(self) -> bool:
        return current(self.folder) != self.generation

    # ----- writing ----------------------------------------------------------------------------------------

    def commit(self) -> str:
        """Write a new generation, then switch CURRENT to it atomically. Returns the generation's name."""
        self.folder.mkdir(parents=True, exist_ok=True)
        existing = own_generations(self.folder)
        taken = sorted(p.name for p in self.folder.iterdir() if GENERATION_NAME.fullmatch(p.name))
        name = f"gen-{int(taken[-1].split('-')[1]) + 1 if taken else 1:06d}"
        gen_dir = self.folder / name
        gen_dir.mkdir()
        _write_file(gen_dir / MARKER, b"written by rag; this folder is deleted when two newer generations exist\n")
        write_catalog(gen_dir, self._catalog, self.info.dimension)
        self._vector_index.write(gen_dir)
        self._bm25().save(gen_dir / "lexical")
        files = {str(p.relative_to(gen_dir)): {"bytes": p.stat().st_size, "sha256": _digest(p)}
                 for p in sorted(gen_dir.rglob("*")) if p.is_file() and p.name != MARKER}
        _write_file(gen_dir / "manifest.json", json.dumps(self._manifest(files), indent=2, ensure_ascii=False).encode("utf-8"))
        _fsync_tree(gen_dir)  # FAISS and BM25 write their own files: nothing is pointed at before all is on disk
        pointer = self.folder / f"{CURRENT}.tmp"
        _write_file(pointer, name.encode("utf-8"))
        os.replace(pointer, self.folder / CURRENT)
        _fsync_dir(self.folder)
        previous, self.generation = self.generation, name
        self._catalog = SqliteCatalog(gen_dir)  # what was written: changes held in memory until now are let go
        # Keep the generation readers may still be loading; drop older ones and leftovers of crashed commits.
        for old in existing:
            if old != previous:
                shutil.rmtree(self.folder / old, ignore_errors=True)
        return name

    def _manifest(self, files: dict) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "embedder": {"id": self.info.embedder_id, "dimension": self.info.dimension},
            "chunking": self.info.chunking.as_dict(),
            "index_type": self._vector_index.kind,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "document_count": self._catalog.document_count(),
            "chunk_count": self._catalog.chunk_count(),
            "files": files,
        }

    def describe(self) -> dict:
        if not self.generation or not (self.folder / self.generation / "manifest.json").is_file():
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
