"""The extractive reader: no generative model, answers are spans of the source.

From the retrieved passages it scores every sentence against the question by semantic similarity (the embedder)
plus the share of the question's content words the sentence holds, and answers with the best sentence, cited at
its exact offsets. Below `threshold` it abstains; the hits still go back to the caller as the closest passages.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rag.embedding import EmbedderLike
from rag.readers import DocumentLookup, Reading, abstention
from rag.readers.spans import best_typed_span, question_type
from rag.text import content_terms, sentence_spans
from rag.types import Citation, Hit


SENTENCE_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class Candidate:
    doc_id: str
    start: int
    end: int
    rank: int


@dataclass(frozen=True)
class ExtractiveSettings:
    threshold: float = 0.35
    semantic_weight: float = 0.6
    max_passages: int = 5
    rank_penalty: float = 0.01
    # A who/when/how-many question whose best sentence holds no name/date/number is less likely answered.
    missing_type_penalty: float = 0.1


def overlap(question_terms: set[str], sentence: str) -> float:
    """Share of the question's content words found in the sentence."""
    if not question_terms:
        return 0.0
    return len(question_terms & set(content_terms(sentence))) / len(question_terms)


class ExtractiveReader:
    name = "extractive"

    def __init__(self, embedder: EmbedderLike, settings: ExtractiveSettings = ExtractiveSettings()):
        self.embedder = embedder
        self.settings = settings
        # Sentence vectors are reused across questions: the same passages come back again and again.
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def sentence_vectors(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            fresh = self.embedder.embed_documents(missing)
            with self._lock:
                for text, vector in zip(missing, fresh):
                    self._vectors[text] = vector
                while len(self._vectors) > SENTENCE_CACHE_SIZE:
                    self._vectors.popitem(last=False)
        with self._lock:
            found = [self._vectors.get(t) for t in texts]
        if any(v is None for v in found):  # evicted meanwhile by another thread: embed directly
            return self.embedder.embed_documents(texts)
        return np.vstack(found) if found else np.zeros((0, 1), dtype=np.float32)

    def candidates(self, hits: Sequence[Hit], lookup: DocumentLookup) -> list[Candidate]:
        """Sentences of the top passages in document offsets; sentences cut by a chunk edge are completed."""
        seen: set[tuple[str, int, int]] = set()
        found: list[Candidate] = []
        for hit in hits[: self.settings.max_passages]:
            doc = lookup(hit.chunk.doc_id)
            # Widen to whole sentences: a chunk may start or end mid-sentence.
            lo = max(0, hit.chunk.start - 300)
            hi = min(len(doc.text), hit.chunk.end + 300)
            for s, e in sentence_spans(doc.text, lo, hi):
                if e <= hit.chunk.start or s >= hit.chunk.end:
                    continue
                key = (doc.doc_id, s, e)
                if key not in seen:
                    seen.add(key)
                    found.append(Candidate(doc.doc_id, s, e, hit.rank))
        return found

    def score(self, question: str, texts: list[str], ranks: list[int]) -> np.ndarray:
        s = self.settings
        q = self.embedder.embed_queries([question])[0]
        semantic = self.sentence_vectors(texts) @ q
        terms = set(content_terms(question))
        lexical = np.array([overlap(terms, t) for t in texts])
        return s.semantic_weight * semantic + (1 - s.semantic_weight) * lexical - s.rank_penalty * np.array(ranks)

    def read(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading:
        candidates = self.candidates(hits, lookup)
        if not candidates:
            return abstention()
        texts = [lookup(c.doc_id).text[c.start : c.end] for c in candidates]
        scores = self.score(question, texts, [c.rank for c in candidates])
        best = int(np.argmax(scores))
        confidence = float(scores[best])
        chosen = candidates[best]
        document = lookup(chosen.doc_id)
        kind = question_type(question)
        span = best_typed_span(question, texts[best], kind)
        if kind is not None and span is None:
            confidence -= self.settings.missing_type_penalty
        if confidence < self.settings.threshold:
            return abstention(confidence)
        citation = Citation.from_document(document, chosen.start, chosen.end)
        if span is None:
            return Reading(citation.quote, (citation,), False, confidence)
        # The short answer is the source's own characters inside the cited sentence.
        answer = document.text[chosen.start + span.start : chosen.start + span.end]
        return Reading(answer, (citation,), False, confidence)
