"""Chunk vectors in FAISS, keyed by chunk_id: the embedded default.

The index type follows the size, decided when a generation is written:

- exact (`IndexIDMap2` over `IndexFlatIP`) below ANN_THRESHOLD vectors;
- approximate in memory (`IndexIVFFlat` with a hash-table direct map) up to ONDISK_THRESHOLD: removing or replacing
  a document deletes its ids from their lists (`remove_ids`) and adds the new ones — nothing is rebuilt. The coarse
  centroids are trained once and again only when the store has grown fourfold since;
- approximate on disk (`IndexIVFPQ` whose inverted lists are an `.ivfdata` file, built with faiss's `merge_ondisk`)
  from ONDISK_THRESHOLD on, for corpora larger than memory: only the coarse centroids and PQ tables are resident; the
  lists and the exact vectors (which re-score the PQ candidates) are read through the page cache. The on-disk part
  is immutable: later changes go to an in-memory exact
  delta and a tombstone set, merged at search time, and the base is rebuilt once the delta passes a tenth of it.
  Generations share the immutable base by hard link, so a save does not copy it.

FAISS needs 64-bit ids: each chunk_id's id is the first 63 bits of its blake2b hash, and the store keeps the map back
(`rag.stores.vector_ids`).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rag.arrays import load
from rag.stores.faiss_ondisk import OnDiskBase, _train, list_count, probes
from rag.stores.vector_ids import VectorIds, vector_id
from rag.types import Chunk

# Exact search below this many vectors, IVF above; the recall/latency trade-off is in docs/scaling.md (rag bench scale).
ANN_THRESHOLD = 100_000
# On disk from here on: 8 million 384-d float vectors are 12 GiB, half this machine's memory.
ONDISK_THRESHOLD = 8_000_000
DELTA_SHARE = 0.1  # an on-disk base is rebuilt once its in-memory delta holds this share of its vectors


def _flat(dimension: int):
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def build_ivf(vectors: np.ndarray, ids: np.ndarray, *, lists: int | None = None):
    """An in-memory IVF-Flat index over `vectors` with `ids`, trained on (a sample of) them."""
    import faiss

    count, dimension = vectors.shape
    lists = lists or list_count(count)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
    _train(index, vectors, lists)
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    return index


class FlatVectors:
    """Exact search (`IndexIDMap2` over `IndexFlatIP`). Read from a generation, its vectors are memory-mapped
    (`mapped`): searched through the page cache, not copied into the process; `loaded()` gives a changeable copy."""

    kind = "flat"

    def __init__(self, dimension: int, index=None, path: Path | None = None):
        self.dimension = dimension
        self.index = index if index is not None else _flat(dimension)
        self.path = path  # the file it is mapped from, or None: held in memory

    @property
    def mapped(self) -> bool:
        return self.path is not None

    def loaded(self):
        """This index held in memory, so that it can change (a mapped index is read-only)."""
        import faiss

        return FlatVectors(self.dimension, faiss.read_index(str(self.path)))

    @property
    def total(self) -> int:
        return self.index.ntotal

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> None:
        import faiss

        # A hash-table direct map (IVF) removes only through an IDSelectorArray; the flat map takes any selector.
        self.index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))

    def search(self, queries: np.ndarray, k: int):
        return self.index.search(queries, k)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return np.vstack([self.index.reconstruct_batch(ids[i : i + 65536]) for i in range(0, len(ids), 65536)]
                         ) if len(ids) else np.zeros((0, self.dimension), dtype=np.float32)

    def write(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(folder / "vectors.faiss"))

    @classmethod
    def read(cls, folder: Path, dimension: int) -> "FlatVectors":
        import faiss

        path = folder / "vectors.faiss"
        return cls(dimension, faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), path)  # the codes mapped


class IvfVectors(FlatVectors):
    """Approximate search (`IndexIVFFlat`; read from a generation, its inverted lists are mapped): a removal deletes
    ids from their lists, nothing is rebuilt; `trained_at` is the size its coarse centroids were trained for. The
    hash table that finds a vector by id is written without and made on first need (removing, fetching vectors), so
    a process that only searches never holds it."""

    kind = "ivf"

    def __init__(self, dimension: int, index, trained_at: int, path: Path | None = None):
        super().__init__(dimension, index, path)
        self.trained_at = trained_at
        self._lock = threading.Lock()

    def loaded(self) -> "IvfVectors":
        import faiss

        return IvfVectors(self.dimension, _probing(faiss.read_index(str(self.path))), self.trained_at)

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray) -> "IvfVectors":
        return cls(vectors.shape[1], build_ivf(vectors, ids), len(ids))

    def search(self, queries: np.ndarray, k: int):
        import faiss

        return self.index.search(queries, k, params=faiss.SearchParametersIVF(nprobe=self.index.nprobe))

    def _by_id(self):
        import faiss

        with self._lock:
            if self.index.direct_map.type != faiss.DirectMap.Hashtable:
                self.index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return self.index

    def remove(self, ids: np.ndarray) -> None:
        self._by_id()
        super().remove(ids)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        self._by_id()
        return super().vectors(ids)

    def write(self, folder: Path) -> None:
        import faiss

        kept = self.index.direct_map.type
        self.index.set_direct_map_type(faiss.DirectMap.NoMap)
        faiss.write_index(self.index, str(folder / "vectors.faiss"))
        self.index.set_direct_map_type(kept)

    @classmethod
    def read(cls, folder: Path, dimension: int, trained_at: int = 0) -> "IvfVectors":
        import faiss

        path = folder / "vectors.faiss"
        return cls(dimension, _probing(faiss.read_index(str(path), faiss.IO_FLAG_MMAP)), trained_at, path)


def _probing(index):
    """An IVF index read from a file, ready to search (its probe count)."""
    index.nprobe = probes(index.nlist, index.ntotal)
    return index


class OnDiskVectors:
    """Approximate search on disk: an immutable `OnDiskBase` that generations share by hard link, plus an exact
    in-memory delta of later changes and a tombstone set of base ids deleted since, merged at search time."""

    kind = "ivfpq-ondisk"

    mapped = False  # the base is read through the page cache already; the delta is small and held

    def __init__(self, base: OnDiskBase, delta: FlatVectors, tombstones: set[int]):
        self.dimension, self.base, self.delta, self.tombstones = base.dimension, base, delta, tombstones

    @classmethod
    def build(cls, source, ids: np.ndarray, folder: Path) -> "OnDiskVectors":
        """A new base from every live vector of `source` (any kind), read in batches, and an empty delta."""
        batch = 262_144

        def batches():
            for start in range(0, len(ids), batch):
                yield source.vectors(ids[start : start + batch]), ids[start : start + batch]

        sample_ids = np.sort(np.random.default_rng(0).choice(ids, size=min(len(ids), 40 * list_count(len(ids))), replace=False))
        base = OnDiskBase.build(batches(), source.dimension, len(ids), folder, sample=source.vectors(sample_ids))
        return cls(base, FlatVectors(source.dimension), set())

    @property
    def total(self) -> int:
        return self.base.index.ntotal - len(self.tombstones) + self.delta.total

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.delta.add(vectors, ids)

    def remove(self, ids: np.ndarray) -> None:
        self.delta.remove(ids)
        self.tombstones.update(ids.tolist())

    def search(self, queries: np.ndarray, k: int):
        scores, ids = self.base.search(queries, k, exclude=self.tombstones)
        if self.delta.total:
            extra_scores, extra_ids = self.delta.search(queries, min(k, self.delta.total))
            scores, ids = np.hstack([scores, extra_scores]), np.hstack([ids, extra_ids])
        return scores, ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        import faiss

        in_delta = np.isin(ids, faiss.vector_to_array(self.delta.index.id_map))
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        if in_delta.any():
            out[in_delta] = self.delta.vectors(ids[in_delta])
        if (~in_delta).any():
            out[~in_delta] = self.base.exact_vectors(ids[~in_delta])
        return out

    def write(self, folder: Path) -> None:
        import faiss

        if self.base.folder != folder:  # unchanged since the previous generation: shared, not copied
            for path in self.base.files:
                os.link(path, folder / path.name)
            self.base.folder = folder  # the next generation links from here: older folders get deleted
        faiss.write_index(self.delta.index, str(folder / "delta.faiss"))
        np.save(folder / "tombstones.npy", np.fromiter(self.tombstones, dtype=np.int64))

    @classmethod
    def read(cls, folder: Path, dimension: int) -> "OnDiskVectors":
        import faiss

        return cls(OnDiskBase.open(folder), FlatVectors(dimension, faiss.read_index(str(folder / "delta.faiss"))),
                   set(load(folder / "tombstones.npy").tolist()))


def sized(current, ids: np.ndarray, folder: Path):
    """The index kind `len(ids)` vectors call for (module docstring), made from `current` when it changes: exact
    below ANN_THRESHOLD, IVF in memory (trained again once the store has grown fourfold), on disk from
    ONDISK_THRESHOLD (its base rebuilt once the delta passes DELTA_SHARE of it)."""
    count = len(ids)
    if isinstance(current, OnDiskVectors):
        grown = current.delta.total > DELTA_SHARE * (count - current.delta.total)
        return OnDiskVectors.build(current, ids, folder) if grown else current
    if count >= ONDISK_THRESHOLD:
        return OnDiskVectors.build(current, ids, folder)
    if count >= ANN_THRESHOLD and (not isinstance(current, IvfVectors) or count >= 4 * current.trained_at):
        return IvfVectors.build(current.vectors(ids), ids)
    if count < ANN_THRESHOLD // 2 and isinstance(current, IvfVectors):  # shrunk well below the threshold: exact again
        flat = FlatVectors(current.dimension)
        flat.add(current.vectors(ids), ids)
        return flat
    return current


_KINDS = {kind.kind: kind for kind in (FlatVectors, IvfVectors, OnDiskVectors)}


class FaissVectorStore:
    """The vector index of a folder store: chunk_id <-> FAISS id (`VectorIds`), over one of the kinds above, chosen
    by size when a generation is written. `write(folder)` and `read(folder)` persist it inside a generation."""

    def __init__(self, dimension: int):
        self.dimension = dimension
        self._vectors = FlatVectors(dimension)
        self._chunk_ids = VectorIds()

    @property
    def kind(self) -> str:
        return self._vectors.kind

    def count(self) -> int:
        return len(self._chunk_ids)

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if not len(chunks):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(chunks), self.dimension):
            raise ValueError(f"{vectors.shape} vectors for {len(chunks)} chunks of dimension {self.dimension}")
        ids = np.array([vector_id(c.chunk_id) for c in chunks], dtype=np.int64)
        for chunk, key in zip(chunks, ids.tolist()):
            known = self._chunk_ids.get(key)
            if known is not None and known != chunk.chunk_id:
                raise ValueError(f"chunk ids {known!r} and {chunk.chunk_id!r} share a vector id")
        self.delete(c.chunk_id for c in chunks)
        self._changeable().add(vectors, ids)
        for key, chunk in zip(ids.tolist(), chunks):
            self._chunk_ids.add(key, chunk.chunk_id)

    def delete(self, chunk_ids: Iterable[str]) -> None:
        ids = [key for key in (vector_id(c) for c in chunk_ids) if key in self._chunk_ids]
        if not ids:
            return
        self._changeable().remove(np.array(ids, dtype=np.int64))
        for key in ids:
            self._chunk_ids.remove(key)

    def _changeable(self):
        """The index, held in memory first if it was mapped from its generation's file (mapped pages are
        read-only: a reader never copies the vectors, a writer copies them once, on its first change)."""
        if self._vectors.mapped:
            self._vectors = self._vectors.loaded()
        return self._vectors

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        if not len(self._chunk_ids) or k <= 0:
            return [[] for _ in range(len(queries))]
        depth = min(k, self.count())
        scores, ids = self._vectors.search(queries, depth)
        results = []
        for row_scores, row_ids in zip(scores, ids):
            order = np.argsort(-row_scores, kind="stable")
            found = ((self._chunk_ids.get(int(row_ids[i])) if row_ids[i] >= 0 else None, float(row_scores[i]))
                     for i in order)
            results.append([(chunk_id, score) for chunk_id, score in found if chunk_id is not None][:depth])
        return results

    def fetch(self, chunk_ids: Sequence[str]) -> np.ndarray:
        if not len(chunk_ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._vectors.vectors(np.array([vector_id(c) for c in chunk_ids], dtype=np.int64))

    def write(self, folder: Path) -> None:
        """Write into a new generation folder, first moving to the kind the size calls for."""
        self._vectors = sized(self._vectors, self._chunk_ids.keys(), folder)
        self._vectors.write(folder)
        self._chunk_ids.write(folder)
        self._chunk_ids = VectorIds.read(folder, {})  # what was written, mapped: changes held until now let go
        (folder / "vector-ids.json").write_text(
            json.dumps({"kind": self.kind, "trained_at": getattr(self._vectors, "trained_at", 0)}), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path, dimension: int) -> "FaissVectorStore":
        store = cls(dimension)
        meta = json.loads((folder / "vector-ids.json").read_text(encoding="utf-8"))
        store._chunk_ids = VectorIds.read(folder, meta)
        kind = _KINDS[meta["kind"]]
        store._vectors = (kind.read(folder, dimension, int(meta.get("trained_at", 0))) if kind is IvfVectors
                          else kind.read(folder, dimension))
        if store._vectors.total != store.count() or store._vectors.dimension != dimension:
            raise ValueError(f"{store._vectors.total} vectors for {store.count()} chunks of dimension {dimension}")
        return store
