"""The on-disk vector base of the largest folder indexes (see rag.stores.faiss_store): IVF-PQ inverted lists in a
file, re-scored with exact vectors read through the page cache, and the IVF sizing rules both IVF kinds share."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.arrays import load

IVF_PROBE_SHARE = 1 / 24  # lists searched per query, as a share of all lists (recall@100 1.0 at 1M, rag bench scale)
MIN_SCANNED = 20_000  # ... and at least this many vectors scanned: recall@100 0.85 -> 0.96 at 100,000 (docs/scaling.md)
PQ_BYTES = 48  # bytes per vector in the on-disk lists (384 / 48 = 8 dimensions per sub-quantizer)
PQ_BITS = 8


def list_count(count: int) -> int:
    """IVF lists for `count` vectors: about 4 * sqrt(n), the usual rule, at least 64."""
    return max(64, int(4 * count**0.5))


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
        self.sorted_ids = load(folder / "refine-ids.npy", mapped=True)
        self.rows = load(folder / "refine-rows.npy", mapped=True)

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
