"""The extractive reader: no generative model, answers are spans of the source.

Every sentence of the retrieved passages is scored against the question: by the cross-encoder (`rag.rerank`) plus
the share of the question's content words it holds, or, without a cross-encoder, by the embedder's similarity plus
that share. The best sentence is cited at its exact offsets; for who / when / how-many questions the answer is the
name, date or number inside it (`rag.readers.spans`), a date without its year or day completed from a well-ranked
sentence that states it in full (`completed_date`). Whether to answer at all is one calibrated confidence over
the reader's signals (`rag.readers.signals`); below its threshold the reader declines and the hits still go back to
the caller as the closest passages.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from rag.embedding import EmbedderLike
from rag.readers import AnswersAtOnce, DocumentLookup, Reading, abstention
from rag.readers.cells import cell_reading
from rag.readers.metadata import metadata_reading
from rag.readers.signals import Calibration, calibration, missing_share
from rag.readers.spans import best_typed_span, date_parts, fuller_date, question_type
from rag.readers.support import context_start, in_context
from rag.retrieval import PassageScorer
from rag.tables import in_header
from rag.text import SENTENCE_REACH, content_terms, sentence_spans
from rag.types import Citation, Hit

SENTENCE_CACHE_SIZE = 50_000
RANKED_CACHE_SIZE = 64  # recent (question, passages) rankings: answer shapes that read twice score once


@dataclass(frozen=True)
class Candidate:
    doc_id: str
    start: int
    end: int
    rank: int


@dataclass(frozen=True)
class ScoredSentence:
    candidate: Candidate
    text: str
    score: float  # what orders the sentences
    relevance: float  # the cross-encoder's logit, or the embedder's cosine without one
    lexical: float


@dataclass(frozen=True)
class ExtractiveSettings:
    # Without a cross-encoder: a fixed threshold on the embedder + overlap score (measured before calibration).
    threshold: float = 0.35
    semantic_weight: float = 0.6
    # With a cross-encoder: its logit plus this many times the question-word share (measured on SQuAD sentences).
    lexical_weight: float = 2.0
    max_passages: int = 5
    rank_penalty: float = 0.01
    # A who/when/how-many question whose best sentence holds no name/date/number is less likely answered.
    missing_type_penalty: float = 0.1
    # With a cross-encoder, a question that asks for a year is read from the best sentence that holds one when it
    # ranks within this many logits of the best, among the first `typed_depth` sentences.
    typed_window: float = 4.0
    typed_depth: int = 3
    # A date answer without its year or day is completed from one of the first `date_depth` sentences that names at
    # least `date_min_overlap` of the question's content words and states a fuller date that agrees with it.
    date_depth: int = 10
    date_min_overlap: float = 0.5


def completed_date(question: str, chosen: ScoredSentence, span: tuple[int, int], ranked: Sequence[ScoredSentence], *,
                   depth: int = 10, min_overlap: float = 0.5, checks: int = 2,
                   confirm: Callable[[str, str], bool] | None = None,
                   context: Callable[[ScoredSentence], str] | None = None) -> tuple[ScoredSentence, tuple[int, int]]:
    """A "when" answer that names a month but leaves out the year or the day ("November 17", "15th May") says less
    than the passages do. It is completed from the date that agrees with it: in its own sentence ("November 21 of
    1998"), else in one of the first `depth` ranked sentences that names at least `min_overlap` of the question's
    content words (a dateline alone, "May 15, 2022 ...", is about anything) and, with `confirm` (the support judge,
    given the fuller date and the sentence; at most `checks` calls), is confirmed to answer the question. The fullest
    such date is tried first ("July 21, 2017" before "21st July" for "July"), the better-ranked among equals. With
    `context` (a sentence with the one before it), a sentence that names its subject only there ("It was released on
    July 21, 2017") counts, and is judged, with it. A bare year is widened to the date it was copied from ("2020" of
    "in June 2020"); completed from another sentence's date only with `confirm` (a year holds many dates about other
    things), and never for a question that asks for the year ("In what year ...?" is not a "date" question). Returns
    the sentence to cite and the answer's offsets in it (the ones given when nothing completes it)."""
    answer = chosen.text[span[0] : span[1]]
    parts = date_parts(answer) if question_type(question) == "date" else None
    if parts is None:
        return chosen, span
    if parts.month is None:
        whole = fuller_date(answer, chosen.text, around=span)
        if whole is not None:
            return chosen, (whole.start, whole.end)
        if confirm is None:
            return chosen, span
    else:
        own = fuller_date(answer, chosen.text)
        if own is not None and own.start <= span[1] and own.end >= span[0]:
            return chosen, (own.start, own.end)
    terms = set(content_terms(question))
    fuller = []
    for sentence in ranked[:depth]:
        found = fuller_date(answer, sentence.text) if sentence is not chosen else None
        if found is None:
            continue
        read = context(sentence) if context is not None else sentence.text
        if sentence.lexical < min_overlap and (context is None or overlap(terms, read) < min_overlap):
            continue
        fuller.append((-date_parts(sentence.text[found.start : found.end]).given, len(fuller), sentence, found, read))
    for *_, sentence, found, read in sorted(fuller)[:checks if confirm is not None else 1]:
        if confirm is None or confirm(sentence.text[found.start : found.end], read):
            return sentence, (found.start, found.end)
    return chosen, span


def dated_citation(sentence: ScoredSentence, lookup: DocumentLookup, min_overlap: float) -> Citation:
    """The citation of a sentence that completed a date: from the sentence before it when only that one names what
    the question asks about ("Splatoon 2 is a 2017 game ... It was released on July 21, 2017")."""
    start = sentence.candidate.start
    if sentence.lexical < min_overlap:
        start = context_start(sentence, lookup)
    return Citation.from_document(lookup(sentence.candidate.doc_id), start, sentence.candidate.end)


def overlap(question_terms: set[str], sentence: str) -> float:
    """Share of the question's content words found in the sentence."""
    if not question_terms:
        return 0.0
    return len(question_terms & set(content_terms(sentence))) / len(question_terms)


class ExtractiveReader(AnswersAtOnce):
    name = "extractive"

    def __init__(self, embedder: EmbedderLike, settings: ExtractiveSettings = ExtractiveSettings(), *,
                 reranker: PassageScorer | None = None, calibrated: Calibration | None = None, abstain: bool = True):
        self.embedder = embedder
        self.abstain = abstain  # False: always answer, still recording the confidence (evaluation of declining)
        self.settings = settings
        self.reranker = reranker
        self.calibrated = calibrated if calibrated is not None else (calibration("extractive") if reranker else None)
        # Sentence vectors are reused across questions: the same passages come back again and again.
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._ranked: OrderedDict[tuple, list[ScoredSentence]] = OrderedDict()
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
            # Widen to whole sentences: a chunk may start or end mid-sentence (a sentence longer than the reach is
            # cut at a word).
            lo = max(0, hit.chunk.start - SENTENCE_REACH)
            hi = min(len(doc.text), hit.chunk.end + SENTENCE_REACH)
            for s, e in sentence_spans(doc.text, lo, hi):
                if e <= hit.chunk.start or s >= hit.chunk.end:
                    continue
                key = (doc.doc_id, s, e)
                if key not in seen:
                    seen.add(key)
                    found.append(Candidate(doc.doc_id, s, e, hit.rank))
        return found

    def ranked(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> list[ScoredSentence]:
        """Every candidate sentence, best first. A document's id is a hash of its text, so a ranking is reused for the
        same question over the same passages (a second look at them costs no cross-encoder pass)."""
        key = (question, tuple((h.chunk.doc_id, h.chunk.start, h.chunk.end, h.rank) for h in hits[: self.settings.max_passages]))
        with self._lock:
            if key in self._ranked:
                self._ranked.move_to_end(key)
                return list(self._ranked[key])
        ranked = self._rank(question, hits, lookup)
        with self._lock:
            self._ranked[key] = ranked
            while len(self._ranked) > RANKED_CACHE_SIZE:
                self._ranked.popitem(last=False)
        return list(ranked)

    def _rank(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> list[ScoredSentence]:
        candidates = self.candidates(hits, lookup)
        if not candidates:
            return []
        s = self.settings
        texts = [lookup(c.doc_id).text[c.start : c.end] for c in candidates]
        terms = set(content_terms(question))
        lexical = np.array([overlap(terms, t) for t in texts])
        ranks = np.array([c.rank for c in candidates])
        if self.reranker is not None:
            relevance = np.asarray(self.reranker.score(question, texts), dtype=np.float64)
            scores = relevance + s.lexical_weight * lexical - s.rank_penalty * ranks
        else:
            relevance = self.sentence_vectors(texts) @ self.embedder.embed_queries([question])[0]
            scores = s.semantic_weight * relevance + (1 - s.semantic_weight) * lexical - s.rank_penalty * ranks
        order = sorted(range(len(candidates)), key=lambda i: (-float(scores[i]), i))
        ranked = [ScoredSentence(candidates[i], texts[i], float(scores[i]), float(relevance[i]), float(lexical[i])) for i in order]
        return self.typed_first(question, ranked) if self.reranker is not None else ranked

    def typed_first(self, question: str, ranked: list[ScoredSentence]) -> list[ScoredSentence]:
        """A question that asks for a year is read first from the best sentence that holds one, when that sentence
        ranks close to the best: a sentence about the topic that holds no year cannot answer "in what year".

        Only years: they are the one kind a pattern finds exhaustively. Answers to "how many" ("half") or "where"
        ("the south") often match no number or name pattern, and moving to a sentence that has one made answers
        worse (SQuAD tune half: 2 of 3 changed answers lost their support, none gained)."""
        kind = question_type(question)
        if kind != "year" or not ranked or best_typed_span(question, ranked[0].text, kind) is not None:
            return ranked
        floor = ranked[0].relevance - self.settings.typed_window
        for position, sentence in enumerate(ranked[1 : self.settings.typed_depth], start=1):
            if sentence.relevance >= floor and best_typed_span(question, sentence.text, kind) is not None:
                return [sentence, *ranked[:position], *ranked[position + 1 :]]
        return ranked

    def signals(self, question: str, ranked: list[ScoredSentence], lookup: DocumentLookup, *, typed_missing: bool) -> dict[str, float]:
        """What the calibrated confidence is computed from (recorded with every answer for evaluation)."""
        best = ranked[0]
        document = lookup(best.candidate.doc_id).text
        return {
            "relevance": best.relevance,
            "margin": best.relevance - ranked[1].relevance if len(ranked) > 1 else 5.0,
            "lexical": best.lexical,
            "missing_sentence": missing_share(question, best.text),
            "missing_document": missing_share(question, document),
            "typed_missing": float(typed_missing),
        }

    def short_answer(self, question: str, best: ScoredSentence, lookup: DocumentLookup):
        """(citation of the sentence, offsets of the name/date/number inside it or None, whether the question
        asked for such a type and the sentence holds none)."""
        kind = question_type(question)
        span = best_typed_span(question, best.text, kind)
        if span is not None and in_header(best.text, (span.start, span.end)):
            span = None  # a table's header names a column: it is never the answer
        citation = Citation.from_document(lookup(best.candidate.doc_id), best.candidate.start, best.candidate.end)
        inside = (best.candidate.start + span.start, best.candidate.start + span.end) if span else None
        return citation, inside, kind is not None and span is None

    def read(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading:
        found = metadata_reading(question, hits, lookup)
        if found is not None:
            return found
        ranked = self.ranked(question, hits, lookup)
        if not ranked:
            return abstention()
        cell = self.table_cell(question, ranked, lookup)
        if cell is not None:
            return cell
        citation, inside, typed_missing = self.short_answer(question, ranked[0], lookup)
        signals = self.signals(question, ranked, lookup, typed_missing=typed_missing)
        confidence = self.confidence(ranked[0], signals)
        threshold = self.calibrated.threshold if self.calibrated else self.settings.threshold
        if self.abstain and confidence < threshold:
            return abstention(confidence, signals)
        if inside is None:
            return Reading(citation.quote, (citation,), False, confidence, signals=signals)
        best = ranked[0]
        dated, span = completed_date(question, best, (inside[0] - best.candidate.start, inside[1] - best.candidate.start),
                                     ranked, depth=self.settings.date_depth, min_overlap=self.settings.date_min_overlap,
                                     context=lambda sentence: in_context(sentence, lookup))
        if dated is not best:
            signals["date_completed"] = 1.0
            citation = dated_citation(dated, lookup, self.settings.date_min_overlap)
        inside = (dated.candidate.start + span[0], dated.candidate.start + span[1])
        # The short answer is the source's own characters inside the cited sentence.
        text = lookup(citation.doc_id).text[inside[0] : inside[1]]
        return Reading(text, (citation,), False, confidence, signals=signals, answer_span=inside)

    def table_cell(self, question: str, ranked: list[ScoredSentence], lookup: DocumentLookup) -> Reading | None:
        """The answer to a question about one cell of a table row it names (`rag.readers.cells`), or None."""
        if not self.abstain:  # a calibration run measures the prose reading's confidence
            return None
        return cell_reading(question, ranked, lookup, self.sentence_vectors_with_query)

    def sentence_vectors_with_query(self, texts: Sequence[str]) -> np.ndarray:
        """The first text embedded as a query, the others as documents (cached): a question and a row's headers."""
        return np.vstack([self.embedder.embed_queries([texts[0]]), self.sentence_vectors(list(texts[1:]))])

    def confidence(self, best: ScoredSentence, signals: dict[str, float]) -> float:
        if self.calibrated is not None:
            return self.calibrated.confidence(signals)
        return best.score - self.settings.missing_type_penalty * signals["typed_missing"]
