"""Dense, lexical and hybrid retrieval over a Store -> Hits, joined on chunk_id.

Hybrid search scores each candidate chunk with four signals: the chunk's dense similarity, the chunk's BM25, and
the same two for the chunk's whole document (BM25 over the document, similarity to the document's centroid), so a
passage from a document that is about the question ranks above an equally close passage from one that is not.
Candidates are the chunks found by the two chunk-level searches. `minmax` fusion rescales each list's scores to
[0, 1] and takes a weighted sum (missing from a list = 0); `rrf` sums weight / (60 + rank). The default weights
were chosen on BEIR SciFact and SQuAD (see docs/evaluation.md and docs/notes/results-history.md).

A second stage (on by default, `rerank`) reads the question with each of the first `rerank_depth` chunks in a
cross-encoder (`rag.rerank`) and orders them by its score; chunks below that depth keep the first stage's order.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Callable, Literal, Protocol, Sequence

import numpy as np

from rag.embedding import EmbedderLike
from rag.errors import RagError
from rag.questions import is_claim
from rag.stores.base import Store
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
    dense_weight: float = 0.35
    lexical_weight: float = 0.15
    doc_lexical_weight: float = 0.35
    doc_dense_weight: float = 0.15
    candidates: int = 100
    rerank: bool = True
    rerank_depth: int = 10  # chunks the cross-encoder re-reads: measured on SQuAD and SciFact (docs/notes/results-history.md)
    # A statement to check (rag.questions.is_claim, e.g. SciFact's queries) keeps the first stage's order: the
    # cross-encoder was trained on questions and ranks claims worse (SciFact nDCG@10 0.736 without it, 0.717 with).
    rerank_claims: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RagError(f"unknown retrieval mode '{self.mode}'", hint=f"choose one of {', '.join(MODES)}")
        if self.fusion not in FUSIONS:
            raise RagError(f"unknown fusion '{self.fusion}'", hint=f"choose one of {', '.join(FUSIONS)}")
        for name in ("dense_weight", "lexical_weight", "doc_lexical_weight", "doc_dense_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise RagError(f"{name} {getattr(self, name)} is outside [0, 1]", hint="pick a weight between 0 and 1")
        if not 1 <= self.rerank_depth <= 1000:
            raise RagError(f"rerank depth {self.rerank_depth} is out of range", hint="use a number from 1 to 1000")

    @property
    def weights(self) -> dict[str, float]:
        return {"dense": self.dense_weight, "bm25": self.lexical_weight,
                "doc_bm25": self.doc_lexical_weight, "doc_dense": self.doc_dense_weight}


def _minmax(pairs: list[tuple[str, float]]) -> dict[str, float]:
    if not pairs:
        return {}
    values = [s for _, s in pairs]
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return {row: 1.0 for row, _ in pairs}
    return {row: (s - low) / (high - low) for row, s in pairs}


def fuse(
    dense: list[tuple[str, float]],
    lexical: list[tuple[str, float]],
    *,
    fusion: Fusion,
    dense_weight: float,
) -> list[tuple[str, float]]:
    """Two-list fusion: fused (id, score) pairs, best first; ties broken by id for a stable order."""
    return fuse_signals({"dense": dense, "bm25": lexical}, {"dense": dense_weight, "bm25": 1 - dense_weight}, fusion=fusion)


def _normalised(pairs: list[tuple[str, float]], fusion: Fusion) -> dict[str, float]:
    if fusion == "rrf":
        return {row: 2 / (RRF_K + rank + 1) for rank, (row, _) in enumerate(pairs)}
    return _minmax(pairs)


def fuse_signals(
    chunk_lists: dict[str, list[tuple[str, float]]],
    weights: dict[str, float],
    *,
    fusion: Fusion,
    doc_lists: dict[str, list[tuple[str, float]]] | None = None,
    doc_of: Callable[[str], str] | None = None,
) -> list[tuple[str, float]]:
    """Weighted fusion of chunk-level lists (chunk_id, score) and document-level lists (doc_id, score).

    Candidates are the chunks of the chunk-level lists; a document-level score counts for each of its candidates."""
    scores: dict[str, float] = {}
    for name, pairs in chunk_lists.items():
        for row, value in _normalised(pairs, fusion).items():
            scores[row] = scores.get(row, 0.0) + weights.get(name, 0.0) * value
    for name, pairs in (doc_lists or {}).items():
        weight = weights.get(name, 0.0)
        if not weight or doc_of is None:
            continue
        normalised = _normalised(pairs, fusion)
        for row in scores:
            scores[row] += weight * normalised.get(doc_of(row), 0.0)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


class PassageScorer(Protocol):
    """What the second stage needs: one relevance score per passage for a question (rag.rerank.CrossEncoder)."""

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray: ...


class Retriever:
    def __init__(self, store: Store, embedder: EmbedderLike, settings: RetrievalSettings = RetrievalSettings(),
                 reranker: PassageScorer | None = None):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        # The second stage runs when the settings ask for it and a scorer is given.
        self.reranker = reranker if settings.rerank else None

    def search(self, query: str, k: int, timings: dict[str, float] | None = None,
               scope: frozenset[str] | None = None) -> list[Hit]:
        return self.search_many([query], k, timings, scope)[0]

    def search_many(self, queries: Sequence[str], k: int, timings: dict[str, float] | None = None,
                    scope: frozenset[str] | None = None) -> list[list[Hit]]:
        """The k best chunks per query; with `scope` (doc_ids, `rag.scope`), only those documents' chunks are
        ranked: every list is computed among them, not filtered after its top-k."""
        timings = timings if timings is not None else {}
        wanted = k
        if self.reranker is not None:
            k = max(k, self.settings.rerank_depth)
        depth = max(k, self.settings.candidates) if self.settings.mode == "hybrid" else k
        lists = self._first_stage(queries, depth, timings, scope)
        started = time.perf_counter()
        results = []
        for dense, lexical, by_doc_dense, by_doc_lexical in zip(*lists):
            fused = self._fuse(dense, lexical, by_doc_dense, by_doc_lexical)
            dense_by_id, lexical_by_id = dict(dense), dict(lexical)
            hits = []
            for chunk_id, score in fused:
                chunk = self.store.chunk(chunk_id)
                if chunk is None:
                    continue  # written by a generation this process has not read yet
                by = {name: values[chunk_id] for name, values in (("dense", dense_by_id), ("bm25", lexical_by_id))
                      if chunk_id in values}
                hits.append(Hit(chunk, float(score), len(hits), by))
                if len(hits) == k:
                    break
            results.append(hits)
        timings["fusion_ms"] = (time.perf_counter() - started) * 1000
        if self.reranker is not None:
            started = time.perf_counter()
            results = [hits if not self.settings.rerank_claims and is_claim(query) else self.rerank(query, hits)
                       for query, hits in zip(queries, results)]
            timings["rerank_ms"] = (time.perf_counter() - started) * 1000
        return [hits[:wanted] for hits in results]

    def _first_stage(self, queries: Sequence[str], depth: int, timings: dict[str, float],
                     scope: frozenset[str] | None = None):
        """Per query: dense and BM25 chunk lists, and (hybrid) dense and BM25 document lists."""
        mode, empty = self.settings.mode, [[] for _ in queries]
        dense_lists, lexical_lists, doc_dense, doc_lexical = empty, empty, empty, empty
        if mode in ("dense", "hybrid"):
            started = time.perf_counter()
            vectors = self.embedder.embed_queries(list(queries))
            timings["embed_ms"] = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            dense_lists = self.store.dense(vectors, depth, scope)
            if mode == "hybrid" and self.settings.doc_dense_weight:
                doc_dense = self.store.dense_documents(vectors, depth, scope)
            timings["dense_ms"] = (time.perf_counter() - started) * 1000
        if mode in ("lexical", "hybrid"):
            started = time.perf_counter()
            lexical_lists = self.store.lexical(queries, depth, scope)
            if mode == "hybrid" and self.settings.doc_lexical_weight:
                doc_lexical = self.store.lexical_documents(queries, depth, scope)
            timings["lexical_ms"] = (time.perf_counter() - started) * 1000
        return dense_lists, lexical_lists, doc_dense, doc_lexical

    def _fuse(self, dense, lexical, by_doc_dense, by_doc_lexical) -> list[tuple[str, float]]:
        if self.settings.mode == "dense":
            return dense
        if self.settings.mode == "lexical":
            return lexical
        def doc_of(chunk_id: str) -> str:
            chunk = self.store.chunk(chunk_id)
            return chunk.doc_id if chunk is not None else ""

        return fuse_signals({"dense": dense, "bm25": lexical}, self.settings.weights, fusion=self.settings.fusion,
                            doc_lists={"doc_dense": by_doc_dense, "doc_bm25": by_doc_lexical}, doc_of=doc_of)

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """The first `rerank_depth` hits ordered by the cross-encoder; the rest after them, in their order.

        A reranked hit's score is the cross-encoder's logit squashed to (0, 1); every signal stays in
        scores_by_retriever ("fused" is the first stage's score)."""
        head, tail = hits[: self.settings.rerank_depth], hits[self.settings.rerank_depth :]
        if not head:
            return hits
        logits = self.reranker.score(query, [h.chunk.text for h in head])
        order = sorted(range(len(head)), key=lambda i: (-float(logits[i]), i))
        reranked = [
            replace(head[i], score=_sigmoid(float(logits[i])),
                    scores_by_retriever={**head[i].scores_by_retriever, "fused": head[i].score, "rerank": float(logits[i])})
            for i in order
        ]
        return [replace(hit, rank=rank) for rank, hit in enumerate(reranked + tail)]


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, value))))
