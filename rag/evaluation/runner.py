"""The runner behind `rag eval`: retrieval in every mode side by side, then each question asked through
`Assistant.ask`; the reports are written by `rag.evaluation.report`."""

from __future__ import annotations

import hashlib
import random
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from rag.evaluation import metrics
from rag.evaluation.datasets import EvalQuestion, EvalSet
from rag.evaluation.report import HIT_KS, _mean, _summary, _write
from rag.questions import classify
from rag.retrieval import MODES, RetrievalSettings, Retriever
from rag.types import Hit

_MARKERS = re.compile(r"\[\d+\]")
LATENCY_SAMPLE = 300  # questions timed one by one in retrieval-only runs


@dataclass(frozen=True)
class EvalConfig:
    reader: str | None = "extractive"  # None: retrieval only
    k: int = 5  # passages given to the reader
    depth: int = 10  # chunks retrieved for hit@k / MRR (documents for BEIR: 100)
    mode: str = "hybrid"  # the retrieval mode the reader uses; every mode is measured side by side
    gold_context: bool = False
    limit: int | None = None
    seed: int = 13
    embedder: str = ""  # the embedder id, recorded in the summary
    rerank: bool = True  # the second stage, for the reader's retrieval (side by side, it is measured both ways)
    rerank_depth: int = RetrievalSettings().rerank_depth
    abstain: bool = True  # False: the reader always answers; its confidence is still recorded and plotted
    baseline: str | None = None  # "stuff": the textbook chain answers the same questions in the same run
    sources: tuple[str, ...] = ()  # --source patterns: the questions are asked of the documents they match only
    where: tuple[str, ...] = ()  # --where KEY:VALUE conditions, as on `rag ask`


def _relevant(question: EvalQuestion, hit: Hit, text: str) -> bool:
    if question.relevant is not None:
        return question.relevant.get(hit.chunk.doc_id, 0) > 0
    return metrics.contains_answer(text, question.answers)


def _documents_ranking(hits: Sequence[Hit]) -> list[str]:
    """Chunk hits -> document ids, each at the rank of its best chunk (MaxP)."""
    return list(dict.fromkeys(h.chunk.doc_id for h in hits))


def index_for(eval_set: EvalSet, assistant_factory: Callable, cache_root: Path, on_progress=None):
    """An assistant over the set's corpus, cached by content so a second run embeds nothing."""
    ids = hashlib.sha256("".join(sorted(d.doc_id for d in eval_set.documents)).encode()).hexdigest()[:12]
    assistant = assistant_factory(cache_root / f"{eval_set.corpus_name or eval_set.name}-{ids}")
    assistant.add_documents(eval_set.documents, on_progress=on_progress)
    return assistant


def retrieval_metrics(eval_set: EvalSet, questions: list[EvalQuestion], rankings: list[list[Hit]]) -> dict:
    flags_all = []
    out: dict[str, float] = {}
    for question, hits in zip(questions, rankings):
        if eval_set.doc_level:
            flags_all.append([question.relevant.get(d, 0) > 0 for d in _documents_ranking(hits)])
        else:
            flags_all.append([_relevant(question, h, h.chunk.text) for h in hits])
    judged = [f for q, f in zip(questions, flags_all) if q.answerable]
    for k in HIT_KS:
        out[f"hit@{k}"] = _mean(metrics.hit_at(f, k) for f in judged)
    out["mrr"] = _mean(metrics.reciprocal_rank(f) for f in judged)
    if eval_set.doc_level:
        ndcg, recall, mrr10 = [], [], []
        for question, hits in zip(questions, rankings):
            ranking = _documents_ranking(hits)
            ndcg.append(metrics.ndcg_at(ranking, question.relevant, 10))
            recall.append(metrics.recall_at(ranking, question.relevant, 100))
            mrr10.append(metrics.reciprocal_rank([question.relevant.get(d, 0) > 0 for d in ranking], 10))
        out.update({"ndcg@10": _mean(ndcg), "recall@100": _mean(recall), "mrr@10": _mean(mrr10)})
    return out


def run(eval_set: EvalSet, assistant_factory: Callable, config: EvalConfig, out_dir: Path, *, cache_root: Path,
        gold_docs: dict[str, str] | None = None, progress=None) -> dict:
    """Evaluate; writes summary.json, results.jsonl, report.md and plots into out_dir. Returns the summary.

    Retrieval is measured in every mode side by side (batched); every answer is the product's own, from
    `Assistant.ask`: over the corpus, or with the gold context over the gold passage(s) alone, or for a question
    that brings its own passages (RGB) over those alone."""
    questions = list(eval_set.questions)
    if config.limit and config.limit < len(questions):
        questions = random.Random(config.seed).sample(questions, config.limit)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = [{"id": q.id, "question": q.question, "gold": list(q.answers), "scores": {}, "timings_ms": {},
                         **({"reference": list(q.reference)} if q.reference else {})} for q in questions]
    if eval_set.own_corpus_per_question:
        ranked = _rank_own_passages(eval_set, questions, _asker(assistant_factory(None), config), config, progress)
    else:
        corpus = (index_for(eval_set, assistant_factory, cache_root,
                            on_progress=lambda d, t: _tick(progress, d, t, "embedding corpus"))
                  if eval_set.documents else assistant_factory(None))
        ranked = _rank_corpus(eval_set, questions, _asker(corpus, config), config, progress)
    reading = bool(config.reader) and not eval_set.retrieval_only
    baseline = _baseline(config, ranked.asker) if config.baseline and reading else None
    latencies: list[float] = []
    for number, (question, row) in enumerate(zip(questions, rows)):
        own = ranked.own[number] if ranked.own else None
        hits, lookup = ranked.rankings[number], (own or ranked.asker).store.document
        row["hits"] = [{"source": lookup(h.chunk.doc_id).source, "start": h.chunk.start, "end": h.chunk.end,
                        "score": round(h.score, 5),
                        "relevant": _relevant(question, h, h.chunk.text) if question.answerable else False}
                       for h in hits[:10]]
        row["scores"]["first_relevant_rank"] = metrics.first_relevant_rank([x["relevant"] for x in row["hits"]])
        if reading:
            answer = _ask(ranked.asker, question, config, gold_docs, own)
            _record_answer(row, question, answer, config.k)
            latencies.append(answer.timings["total_ms"])
        elif own is not None or number < LATENCY_SAMPLE:
            row["timings_ms"] = {"total_ms": round(ranked.timed_ms(number, question), 2)}
            latencies.append(row["timings_ms"]["total_ms"])
        if baseline is not None:
            row["baseline"] = _baseline_answer(baseline, own or ranked.asker, config, question, gold_docs, lookup)
        _tick(progress, number + 1, len(questions), "answering" if reading else "timing")
    summary = _summary(eval_set, questions, rows, ranked.by_mode, config, latencies, ranked.default_name)
    _write(out_dir, summary, rows)
    return summary


@dataclass
class _Ranked:
    """What the retrieval side found: the default pipeline's ranking per question (and every mode's metrics)."""

    asker: object  # the Assistant the questions are asked of
    rankings: list[list[Hit]]
    by_mode: dict[str, dict]
    default_name: str
    own: list | None = None  # per question: an Assistant over its own passages only
    retrieval_ms: list[float] | None = None
    depth: int = 10
    scope: frozenset[str] | None = None

    def timed_ms(self, number: int, question: EvalQuestion) -> float:
        """One question's retrieval, timed alone as a person would ask it."""
        if self.retrieval_ms is not None:
            return self.retrieval_ms[number]
        started = time.perf_counter()
        self.asker.retriever().search(question.question, self.depth, scope=self.scope)
        return (time.perf_counter() - started) * 1000


def _asker(assistant, config: EvalConfig):
    """The assistant with the run's retrieval mode, second stage and declining, sharing the loaded index and models."""
    retrieval = replace(assistant.settings.retrieval, mode=config.mode, rerank=config.rerank,
                        rerank_depth=config.rerank_depth)
    return assistant.with_settings(retrieval=retrieval, abstain=config.abstain,
                                   **({"reader": config.reader} if config.reader else {}))


def _rank_corpus(eval_set, questions, asker, config: EvalConfig, progress) -> _Ranked:
    """Every retrieval mode over the shared corpus, batched; the default one (the reader's) is kept per question."""
    store, scope = asker.store, _scope(asker.store, config)
    depth = 100 * 3 if eval_set.doc_level else config.depth  # enough chunks for 100 distinct documents
    texts = [q.question for q in questions]
    reranker = asker.reranker if config.rerank else None
    variants = [(mode, mode, None) for mode in MODES]
    if reranker is not None:
        variants.append((f"{config.mode}+rerank", config.mode, reranker))
    ranked = _Ranked(asker, [], {}, config.mode, depth=depth, scope=scope)
    for name, mode, second_stage in variants:
        retriever = Retriever(store, asker.embedder, RetrievalSettings(mode=mode, rerank=second_stage is not None,
                                                                       rerank_depth=config.rerank_depth),
                              reranker=second_stage)
        rankings = []
        for start in range(0, len(texts), 64):
            rankings.extend(retriever.search_many(texts[start : start + 64], depth, scope=scope))
            _tick(progress, min(start + 64, len(texts)), len(texts), f"retrieving ({name})")
        ranked.by_mode[name] = retrieval_metrics(eval_set, questions, rankings)
        if mode == config.mode and (second_stage is not None) == (reranker is not None):
            ranked.rankings, ranked.default_name = rankings, name
    return ranked


def _rank_own_passages(eval_set, questions, asker, config: EvalConfig, progress) -> _Ranked:
    """A question with passages of its own (RGB) is searched and asked over those passages alone."""
    if config.sources or config.where:
        from rag.errors import RagError

        raise RagError(f"{eval_set.name} gives each question passages of its own, so --source/--where have "
                       "nothing to choose from", hint="scope a question set over a shared corpus (--corpus, --index)")
    own, rankings, milliseconds = [], [], []
    for number, question in enumerate(questions):
        sub = asker.over(list(question.documents))
        started = time.perf_counter()
        rankings.append(sub.retriever().search(question.question, config.depth))
        milliseconds.append((time.perf_counter() - started) * 1000)
        own.append(sub)
        _tick(progress, number + 1, len(questions), "retrieving")
    name = f"{config.mode}+rerank" if config.rerank else config.mode  # named as in side-by-side runs
    return _Ranked(asker, rankings, {}, name, own=own, retrieval_ms=milliseconds, depth=config.depth)


def _ask(asker, question: EvalQuestion, config: EvalConfig, gold_docs, own):
    """The product's answer: `Assistant.ask` over the corpus (in the run's scope), over the gold passage(s) alone,
    or over the question's own passages."""
    if own is None and config.gold_context and gold_docs:
        ids = gold_docs[question.id]
        own = asker.over([asker.store.document(d) for d in ([ids] if isinstance(ids, str) else ids)])
    if own is not None:
        return own.ask(question.question, k=config.k)
    return asker.ask(question.question, k=config.k, sources=list(config.sources), where=list(config.where))


def _record_answer(row: dict, question: EvalQuestion, answer, k: int) -> None:
    prediction = "" if answer.abstained else _shown(answer)
    row.update({
        "answer": prediction,
        "abstained": answer.abstained,
        "confidence": round(answer.confidence, 4),
        "signals": dict(answer.signals),
        "passages_hold_answer": any(metrics.contains_answer(h.chunk.text, question.answers)
                                    for h in answer.hits[:k]) if question.answers else None,
        "citations": [{"source": c.source, "start": c.start, "end": c.end, "quote": c.quote} for c in answer.citations],
        "kind": answer.kind or classify(question.question).kind,
        "timings_ms": dict(answer.timings),
    })
    if question.relevant:
        cited = {c.doc_id for c in answer.citations}
        row["scores"]["support_recall"] = round(sum(d in cited for d in question.relevant) / len(question.relevant), 4)
    row["scores"].update({
        "em": metrics.exact_match(prediction, question.answers),
        "f1": round(metrics.f1_score(prediction, question.answers), 4),
        "citation_supported": (any(metrics.contains_answer(c.quote, question.answers) for c in answer.citations)
                               if question.answers and not answer.abstained else None),
    })


def _gold_hits(store, doc_ids: str | Sequence[str]) -> list[Hit]:
    doc_ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
    chunks = [c for doc_id in doc_ids for c in store.chunks(doc_id)]
    return [Hit(c, 1.0, rank, {}) for rank, c in enumerate(chunks)]


def _shown(answer) -> str:
    """What is scored: the crisp answer when the shape has one ("Yes", the name), else the text without markers."""
    if answer.short is not None:
        return answer.short
    return " ".join(_MARKERS.sub(" ", answer.text).split())


def _scope(store, config: EvalConfig) -> frozenset[str] | None:
    """The doc_ids the questions are asked of (--source / --where), or None for every document."""
    from rag.scope import scoped

    return scoped(store.documents(), list(config.sources), list(config.where))


def _baseline(config: EvalConfig, owner):
    from rag.readers.baseline import StuffReader

    if config.baseline != "stuff":
        raise ValueError(f"unknown baseline {config.baseline!r}")
    return StuffReader(owner.reader("llm").llm)


def _baseline_answer(baseline, assistant, config: EvalConfig, question: EvalQuestion, gold_docs, lookup) -> dict:
    """The textbook chain: dense top-4 (or the gold passages), the stuff prompt, the same local model."""
    started = time.perf_counter()
    if config.gold_context and gold_docs:
        passages = _gold_hits(assistant.store, gold_docs[question.id])
    else:
        passages = Retriever(assistant.store, assistant.embedder, RetrievalSettings(mode="dense", rerank=False)).search(
            question.question, baseline.passages)
    reading = baseline.read(question.question, passages, lookup)
    prediction = "" if reading.abstained else reading.text
    return {"answer": reading.text, "abstained": reading.abstained,
            "em": metrics.exact_match(prediction, question.answers),
            "f1": round(metrics.f1_score(prediction, question.answers), 4),
            "contains_gold": metrics.contains_answer(reading.text, question.answers) if question.answers else None,
            "total_ms": round((time.perf_counter() - started) * 1000, 2)}


def _tick(progress, done, total, label) -> None:
    if progress is not None:
        progress(done, total, label)
