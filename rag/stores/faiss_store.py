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

FAISS needs 64-bit ids: each chunk_id's id is the first 63 bits of its blake2b hash, and the store keeps the map back.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rag.types import Chunk

# Exact search below this many vectors, IVF above; the recall/latency trade-off is in the README (rag bench scale).
ANN_THRESHOLD = 100_000
# On disk from here on: 8 million 384-d float vectors are 12 GiB, half this machine's memory.
ONDISK_THRESHOLD = 8_000_000
IVF_PROBE_SHARE = 1 / 24  # lists searched per query, as a share of all lists (recall@100 1.0 at 1M, rag bench scale)
MIN_SCANNED = 20_000  # ... and at least this many vectors scanned: recall@100 0.85 -> 0.96 at 100,000 (README)
PQ_BYTES = 48  # bytes per vector in the on-disk lists (384 / 48 = 8 dimensions per sub-quantizer)
PQ_BITS = 8
DELTA_SHARE = 0.1  # an on-disk base is rebuilt once its in-memory delta holds this share of its vectors


def vector_id(chunk_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(chunk_id.encode("utf-8"), digest_size=8).digest(), "little") >> 1


def list_count(count: int) -> int:
    """IVF lists for `count` vectors: about 4 * sqrt(n), the usual rule, at least 64."""
    return max(64, int(4 * count**0.5))


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


def _train(index, vectors: np.ndarray, lists: int, count: int | None = None) -> None:
    sample = np.random.default_rng(0).choice(len(vectors), size=min(len(vectors), 40 * lists), replace=False)
    index.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
    index.nprobe = probes(lists, count or len(vectors))


def probes(lists: int, count: int) -> int:
    """Lists searched per query: a share of them, and enough to scan at least MIN_SCANNED vectors (small indexes
    spread a query's neighbours over more lists than their share would reach)."""
    enough = -(-MIN_SCANNED * lists // max(count, 1))
    return min(lists, max(8, round(lists * IVF_PROBE_SHARE), enough))


BASE_FILES = ("vectors.faiss", "vectors.ivfdata", "vectors.f32", "refine-ids.npy", "refine-rows.npy")
REFINE_FACTOR = 10  # PQ candidates re-scored, times k: the least reaching recall@100 0.99 at 1M (rag bench scale)


class OnDiskBase:
    """An immutable on-disk vector base: IVF-PQ lists in vectors.ivfdata find candidates, and the exact vectors in
    vectors.f32 (memory-mapped, found through sorted ids) re-score them, so the codes' error costs little recall.
    Only the coarse centroids and PQ tables are held; lists and vectors are read through the page cache."""

    def __init__(self, folder: Path, index, dimension: int):
        self.folder, self.index, self.dimension = folder, index, dimension
        self.vectors = np.memmap(folder / "vectors.f32", dtype=np.float32, mode="r").reshape(-1, dimension)
        self.sorted_ids = np.load(folder / "refine-ids.npy", mmap_mode="r")
        self.rows = np.load(folder / "refine-rows.npy", mmap_mode="r")

    @property
    def files(self) -> list[Path]:
        return [self.folder / name for name in BASE_FILES]

    @classmethod
    def open(cls, folder: Path) -> "OnDiskBase":
        import faiss

        index = faiss.read_index(str(folder / "vectors.faiss"), faiss.IO_FLAG_ONDISK_SAME_DIR)
        index.nprobe = probes(index.nlist, index.ntotal)
        return cls(folder, index, index.d)

    @classmethod
    def build(cls, vectors_batches, dimension: int, count: int, folder: Path, *, sample: np.ndarray) -> "OnDiskBase":
        """Fill the lists and the exact vectors batch by batch (never all in memory); `vectors_batches` yields
        (vectors, ids); `sample` trains the coarse quantizer and the product quantizer."""
        import faiss
        from faiss.contrib.ondisk import merge_ondisk

        lists = list_count(count)
        trained = faiss.IndexIVFPQ(faiss.IndexFlatIP(dimension), dimension, lists, PQ_BYTES, PQ_BITS, faiss.METRIC_INNER_PRODUCT)
        _train(trained, sample, lists, count)
        exact = np.memmap(folder / "vectors.f32", dtype=np.float32, mode="w+", shape=(count, dimension))
        all_ids, shards, row = np.zeros(count, dtype=np.int64), [], 0
        for number, (vectors, ids) in enumerate(vectors_batches):
            shard = faiss.clone_index(trained)
            shard.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
            path = folder / f"shard-{number:04d}.faiss"
            faiss.write_index(shard, str(path))
            shards.append(path)
            exact[row : row + len(ids)] = vectors
            all_ids[row : row + len(ids)] = ids
            row += len(ids)
        exact.flush()
        del exact
        merge_ondisk(trained, [str(p) for p in shards], str(folder / "vectors.ivfdata"))
        for path in shards:
            path.unlink()
        order = np.argsort(all_ids, kind="stable")
        np.save(folder / "refine-ids.npy", all_ids[order])
        np.save(folder / "refine-rows.npy", order)
        faiss.write_index(trained, str(folder / "vectors.faiss"))
        return cls.open(folder)

    def exact_vectors(self, ids: np.ndarray) -> np.ndarray:
        positions = np.searchsorted(self.sorted_ids, ids)
        return np.asarray(self.vectors[np.asarray(self.rows[positions])], dtype=np.float32)

    def search(self, queries: np.ndarray, k: int, *, exclude: set[int] = frozenset(), refine: int | None = None):
        import faiss

        params = faiss.SearchParametersIVF(nprobe=self.index.nprobe)
        if exclude:
            params.sel = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.fromiter(exclude, dtype=np.int64)))
        depth = min(self.index.ntotal, (refine or REFINE_FACTOR) * k)
        _, candidates = self.index.search(queries, depth, params=params)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (query, found) in enumerate(zip(queries, candidates)):
            found = found[found >= 0]
            if not len(found):
                continue
            exact = self.exact_vectors(found) @ query
            top = np.argsort(-exact, kind="stable")[:k]
            scores[row, : len(top)], ids[row, : len(top)] = exact[top], found[top]
        return scores, ids


class FaissVectorStore:
    """The VectorStore of a folder index. `write(folder)` and `read(folder)` persist it inside a generation."""

    def __init__(self, dimension: int):
        self.dimension = dimension
        self._index = _flat(dimension)
        self._chunk_ids: dict[int, str] = {}
        self._trained_at = 0  # vectors the IVF centroids were trained for
        self._base: OnDiskBase | None = None  # on disk: the immutable base a generation links to
        self._delta = None  # on disk: changes since the base was written, exact
        self._tombstones: set[int] = set()  # on disk: ids in the base that were deleted since

    @property
    def kind(self) -> str:
        if self._base is not None:
            return "ivfpq-ondisk"
        return "ivf" if self._is_ivf() else "flat"

    def _is_ivf(self) -> bool:
        import faiss

        return isinstance(self._index, faiss.IndexIVF)

    def count(self) -> int:
        return len(self._chunk_ids)

    # ----- changing ---------------------------------------------------------------------------------------------

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
        target = self._delta if self._base is not None else self._index
        target.add_with_ids(vectors, ids)
        self._chunk_ids.update(zip(ids.tolist(), (c.chunk_id for c in chunks)))

    def delete(self, chunk_ids: Iterable[str]) -> None:
        import faiss

        ids = [key for key in (vector_id(c) for c in chunk_ids) if key in self._chunk_ids]
        if not ids:
            return
        wanted = np.array(ids, dtype=np.int64)
        # A hash-table direct map (IVF) removes only through an IDSelectorArray; the flat map takes any selector.
        selector = faiss.IDSelectorArray(len(wanted), faiss.swig_ptr(wanted))
        if self._base is not None:
            self._delta.remove_ids(selector)
            self._tombstones.update(ids)
        else:
            self._index.remove_ids(selector)
        for key in ids:
            del self._chunk_ids[key]

    # ----- searching --------------------------------------------------------------------------------------------

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self._chunk_ids or k <= 0:
            return [[] for _ in range(len(queries))]
        depth = min(k, self.count())
        if self._base is not None:
            scores, ids = self._base.search(queries, depth, exclude=self._tombstones)
        else:
            scores, ids = self._search(self._index, queries, depth)
        if self._delta is not None and self._delta.ntotal:
            extra_scores, extra_ids = self._delta.search(queries, min(depth, self._delta.ntotal))
            scores, ids = np.hstack([scores, extra_scores]), np.hstack([ids, extra_ids])
        results = []
        for row_scores, row_ids in zip(scores, ids):
            order = np.argsort(-row_scores, kind="stable")
            pairs = [(self._chunk_ids[int(row_ids[i])], float(row_scores[i])) for i in order
                     if row_ids[i] >= 0 and int(row_ids[i]) in self._chunk_ids]
            results.append(pairs[:depth])
        return results

    @staticmethod
    def _search(index, queries: np.ndarray, k: int):
        import faiss

        if not isinstance(index, faiss.IndexIVF):
            return index.search(queries, k)
        return index.search(queries, k, params=faiss.SearchParametersIVF(nprobe=index.nprobe))

    def fetch(self, chunk_ids: Sequence[str]) -> np.ndarray:
        if not len(chunk_ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._vectors_of(np.array([vector_id(c) for c in chunk_ids], dtype=np.int64))

    # ----- persisting -------------------------------------------------------------------------------------------

    def _reshape(self, folder: Path) -> None:
        """Move to the index type the size calls for (see the module's docstring), before writing."""
        count = self.count()
        if self._base is not None:
            if self._delta.ntotal > DELTA_SHARE * (count - self._delta.ntotal):
                self._write_base(folder)
            return
        if count >= ONDISK_THRESHOLD:
            self._write_base(folder)
        elif count >= ANN_THRESHOLD and (not self._is_ivf() or count >= 4 * self._trained_at):
            ids = np.fromiter(self._chunk_ids, dtype=np.int64, count=count)
            vectors = self._index.reconstruct_batch(ids) if self._is_ivf() else self._flat_vectors(ids)
            self._index, self._trained_at = build_ivf(vectors, ids), count
        elif count < ANN_THRESHOLD // 2 and self._is_ivf():  # shrunk well below the threshold: exact again
            ids = np.fromiter(self._chunk_ids, dtype=np.int64, count=count)
            vectors = self._index.reconstruct_batch(ids)
            self._index, self._trained_at = _flat(self.dimension), 0
            self._index.add_with_ids(vectors, ids)

    def _flat_vectors(self, ids: np.ndarray) -> np.ndarray:
        return np.vstack([self._index.reconstruct_batch(ids[i : i + 65536]) for i in range(0, len(ids), 65536)])

    def _write_base(self, folder: Path) -> None:
        """(Re)build the on-disk base from every live vector, in batches, then start an empty delta."""
        ids = np.fromiter(self._chunk_ids, dtype=np.int64, count=self.count())
        batch = 262_144

        def batches():
            for start in range(0, len(ids), batch):
                yield self._vectors_of(ids[start : start + batch]), ids[start : start + batch]

        sample = self._vectors_of(np.sort(np.random.default_rng(0).choice(ids, size=min(len(ids), 40 * list_count(len(ids))), replace=False)))
        self._base = OnDiskBase.build(batches(), self.dimension, len(ids), folder, sample=sample)
        self._index = self._base.index
        self._delta, self._tombstones = _flat(self.dimension), set()

    def _vectors_of(self, ids: np.ndarray) -> np.ndarray:
        if self._base is not None:
            import faiss

            in_delta = np.isin(ids, faiss.vector_to_array(self._delta.id_map))
            out = np.zeros((len(ids), self.dimension), dtype=np.float32)
            if in_delta.any():
                out[in_delta] = self._delta.reconstruct_batch(ids[in_delta])
            if (~in_delta).any():
                out[~in_delta] = self._base.exact_vectors(ids[~in_delta])
            return out
        return self._index.reconstruct_batch(ids)

    def write(self, folder: Path) -> None:
        """Write into a new generation folder; an on-disk base is hard-linked from the previous generation."""
        import faiss

        self._reshape(folder)
        if self._base is not None:
            if self._base.folder != folder:  # unchanged since the previous generation: shared, not copied
                for path in self._base.files:
                    os.link(path, folder / path.name)
                self._base.folder = folder  # the next generation links from here: older folders get deleted
            faiss.write_index(self._delta, str(folder / "delta.faiss"))
            np.save(folder / "tombstones.npy", np.fromiter(self._tombstones, dtype=np.int64))
        else:
            faiss.write_index(self._index, str(folder / "vectors.faiss"))
        ids = np.fromiter(self._chunk_ids, dtype=np.int64, count=self.count())
        (folder / "vector-ids.json").write_text(
            json.dumps({"kind": self.kind, "trained_at": self._trained_at,
                        "chunk_ids": [self._chunk_ids[int(i)] for i in ids]}), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path, dimension: int) -> "FaissVectorStore":
        import faiss

        store = cls(dimension)
        meta = json.loads((folder / "vector-ids.json").read_text(encoding="utf-8"))
        store._chunk_ids = {vector_id(c): c for c in meta["chunk_ids"]}
        store._trained_at = int(meta.get("trained_at", 0))
        if meta["kind"] == "ivfpq-ondisk":
            store._base = OnDiskBase.open(folder)
            store._index = store._base.index
            store._delta = faiss.read_index(str(folder / "delta.faiss"))
            store._tombstones = set(np.load(folder / "tombstones.npy").tolist())
        else:
            store._index = faiss.read_index(str(folder / "vectors.faiss"))
        if store._is_ivf() and store._base is None:
            store._index.nprobe = probes(store._index.nlist, store._index.ntotal)
            if store._index.direct_map.type != faiss.DirectMap.Hashtable:
                store._index.set_direct_map_type(faiss.DirectMap.Hashtable)
        live = store._index.ntotal - len(store._tombstones) + (store._delta.ntotal if store._delta is not None else 0)
        if live != store.count() or store._index.d != dimension:
            raise ValueError(f"{live} vectors of dimension {store._index.d} for {store.count()} chunks of dimension {dimension}")
        return store
