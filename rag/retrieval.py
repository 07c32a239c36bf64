"""Dense, lexical and hybrid retrieval over an Index -> Hits.

Hybrid search takes a candidate list from each retriever and fuses them: `minmax` rescales each list's scores to
[0, 1] and takes a weighted sum (a candidate missing from a list gets 0 there); `rrf` sums 1 / (60 + rank).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from rag.embedding import EmbedderLike
from rag.errors import RagError
from rag.index import Index
from rag.types import Hit

Mode = Literal["dense", "lexical", "hybrid"]
Fusion = Literal["minmax", "rrf"]
MODES: tuple[str, ...] = ("dense", "lexical", "hybrid")
FUSIONS: tuple[str, ...] = ("minmax", "rrf")
RRF_K = 60


@dataclass(frozen=True)
class RetrievalSettings:
    mode: Mode = "hybrid"
    fusion: Fusion = "minmax"
    dense_weight: float = 0.5
    candidates: int = 50

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RagError(f"unknown retrieval mode '{self.mode}'", hint=f"choose one of {', '.join(MODES)}")
        if self.fusion not in FUSIONS:
            raise RagError(f"unknown fusion '{self.fusion}'", hint=f"choose one of {', '.join(FUSIONS)}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise RagError(f"dense weight {self.dense_weight} is outside [0, 1]", hint="pick a weight between 0 and 1")


def _minmax(pairs: list[tuple[int, float]]) -> dict[int, float]:
    if not pairs:
        return {}
    values = [s for _, s in pairs]
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return {row: 1.0 for row, _ in pairs}
    return {row: (s - low) / (high - low) for row, s in pairs}


def fuse(
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    *,
    fusion: Fusion,
    dense_weight: float,
) -> list[tuple[int, float]]:
    """Fused (row, score) pairs, best first; ties broken by row for a stable order."""
    scores: dict[int, float] = {}
    if fusion == "rrf":
        for weight, pairs in ((dense_weight, dense), (1 - dense_weight, lexical)):
            for rank, (row, _) in enumerate(pairs):
                scores[row] = scores.get(row, 0.0) + 2 * weight / (RRF_K + rank + 1)
    else:
        for weight, normalised in ((dense_weight, _minmax(dense)), (1 - dense_weight, _minmax(lexical))):
            for row, value in normalised.items():
                scores[row] = scores.get(row, 0.0) + weight * value
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


class Retriever:
    def __init__(self, index: Index, embedder: EmbedderLike, settings: RetrievalSettings = RetrievalSettings()):
        self.index = index
        self.embedder = embedder
        self.settings = settings

    def search(self, query: str, k: int, timings: dict[str, float] | None = None) -> list[Hit]:
        return self.search_many([query], k, timings)[0]

    def search_many(self, queries: Sequence[str], k: int, timings: dict[str, float] | None = None) -> list[list[Hit]]:
        import time

        timings = timings if timings is not None else {}
        mode = self.settings.mode
        depth = max(k, self.settings.candidates) if mode == "hybrid" else k
        dense_lists: list[list[tuple[int, float]]] = [[] for _ in queries]
        lexical_lists: list[list[tuple[int, float]]] = [[] for _ in queries]
        if mode in ("dense", "hybrid"):
            started = time.perf_counter()
            vectors = self.embedder.embed_queries(list(queries))
            timings["embed_ms"] = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            dense_lists = self.index.search(vectors, depth)
            timings["dense_ms"] = (time.perf_counter() - started) * 1000
        if mode in ("lexical", "hybrid"):
            started = time.perf_counter()
            lexical_lists = self.index.lexical.search_many(queries, depth)
            timings["lexical_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        results = []
        for dense, lexical in zip(dense_lists, lexical_lists):
            if mode == "dense":
                fused = dense
            elif mode == "lexical":
                fused = lexical
            else:
                fused = fuse(dense, lexical, fusion=self.settings.fusion, dense_weight=self.settings.dense_weight)
            dense_by_row, lexical_by_row = dict(dense), dict(lexical)
            hits = []
            for rank, (row, score) in enumerate(fused[:k]):
                by = {}
                if row in dense_by_row:
                    by["dense"] = dense_by_row[row]
                if row in lexical_by_row:
                    by["bm25"] = lexical_by_row[row]
                hits.append(Hit(self.index.chunks[row], float(score), rank, by))
            results.append(hits)
        timings["fusion_ms"] = (time.perf_counter() - started) * 1000
        return results
