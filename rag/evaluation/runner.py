"""The runner behind `rag eval`: retrieval in every mode side by side, then the reader, then the reports."""

from __future__ import annotations

import hashlib
import json
import platform
import random
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from rag.evaluation import metrics
from rag.evaluation.errors import (confident_wrong_markdown, declining_curve, error_counts, examples_markdown,
                                   outcome_counts, roc_auc)
from rag.evaluation.datasets import EvalQuestion, EvalSet
from rag.questions import classify
from rag.retrieval import MODES, RetrievalSettings, Retriever
from rag.types import Hit

HIT_KS = (1, 3, 5, 10, 20)
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


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else 0.0


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
    rows: list[dict] = [{"id": q.id, "question": q.question, "gold": list(q.answers), "scores": {}, "timings_ms": {}}
                        for q in questions]
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
    retrieval = replace(assistant.settings.retrieval, mode=config.mode, rerank=config.rerank)
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
        retriever = Retriever(store, asker.embedder, RetrievalSettings(mode=mode, rerank=second_stage is not None),
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


def _summary(eval_set, questions, rows, by_mode, config, latencies, default_name) -> dict:
    answerable = [q.answerable for q in questions]
    summary: dict = {"dataset": eval_set.name, "questions": len(questions), "answerable": sum(answerable)}
    if by_mode:
        summary.update({k: v for k, v in by_mode[default_name].items()})
    else:
        flags = [[h["relevant"] for h in r["hits"]] for r, a in zip(rows, answerable) if a]
        for k in HIT_KS:
            summary[f"hit@{k}"] = _mean(metrics.hit_at(f, k) for f in flags)
        summary["mrr"] = _mean(metrics.reciprocal_rank(f) for f in flags)
    if rows and "em" in rows[0]["scores"]:
        em = [r["scores"]["em"] for r in rows]
        f1 = [r["scores"]["f1"] for r in rows]
        summary["em"] = _mean(em)
        summary["f1"] = _mean(f1)
        summary["em_answerable"] = _mean(e for e, a in zip(em, answerable) if a)
        summary["f1_answerable"] = _mean(f for f, a in zip(f1, answerable) if a)
        summary["f1_unanswerable"] = _mean(f for f, a in zip(f1, answerable) if not a)
        supported = [r["scores"]["citation_supported"] for r in rows if r["scores"]["citation_supported"] is not None]
        summary["citation_support"] = _mean(float(s) for s in supported)
        precision, recall = metrics.abstention_scores([r["abstained"] for r in rows], [not a for a in answerable])
        summary["abstention_precision"] = round(precision, 4)
        summary["abstention_recall"] = round(recall, 4)
        summary["abstained"] = sum(r["abstained"] for r in rows)
        summary["errors"] = error_counts(rows, answerable)
        summary["outcomes"] = outcome_counts(rows)
        confidences = [r["confidence"] for r in rows]
        summary["confidence_auc"] = round(roc_auc([c for c, a in zip(confidences, answerable) if a],
                                                  [c for c, a in zip(confidences, answerable) if not a]), 4)
    if rows and "kind" in rows[0]:
        summary["by_kind"] = _by_kind(rows)
        recalls = [r["scores"]["support_recall"] for r in rows if "support_recall" in r["scores"]]
        if recalls:
            summary["support_recall"] = _mean(recalls)
        yes_no = [r for r in rows if [g.lower() for g in r["gold"]] in (["yes"], ["no"])]
        if yes_no:
            summary["f1_yes_no"] = _mean(r["scores"]["f1"] for r in yes_no)
    if rows and "baseline" in rows[0]:
        base = [r["baseline"] for r in rows]
        summary["baseline"] = {
            "name": config.baseline, "em": _mean(b["em"] for b in base), "f1": _mean(b["f1"] for b in base),
            "contains_gold": _mean(float(b["contains_gold"]) for b in base if b["contains_gold"] is not None),
            "declined": sum(b["abstained"] for b in base),
            "latency_ms_p50": round(metrics.percentile([b["total_ms"] for b in base], 50), 2),
        }
        if summary["baseline"]["f1"]:
            summary["f1_vs_baseline"] = round(summary["f1"] / summary["baseline"]["f1"], 2)
    summary["latency_ms_p50"] = round(metrics.percentile(latencies, 50), 2)
    summary["latency_ms_p95"] = round(metrics.percentile(latencies, 95), 2)
    summary["by_retrieval"] = by_mode
    summary["settings"] = {
        "reader": config.reader if not eval_set.retrieval_only else None,
        "k": config.k, "mode": config.mode, "rerank": config.rerank, "abstain": config.abstain,
        "gold_context": config.gold_context, "limit": config.limit, "embedder": config.embedder,
        "baseline": config.baseline,
    }
    summary["machine"] = {"platform": platform.platform(), "python": platform.python_version(), "cpus": _cpus()}
    return summary


def _by_kind(rows: list[dict]) -> dict:
    """F1, EM, declined and answer p50 per question kind (and the baseline's F1 beside it, when it ran)."""
    kinds: dict[str, list[dict]] = {}
    for row in rows:
        kinds.setdefault(row["kind"], []).append(row)
    table = {}
    for kind, members in sorted(kinds.items()):
        table[kind] = {"questions": len(members), "f1": _mean(r["scores"]["f1"] for r in members),
                       "em": _mean(r["scores"]["em"] for r in members),
                       "declined": sum(r["abstained"] for r in members),
                       "latency_ms_p50": round(metrics.percentile([r["timings_ms"]["total_ms"] for r in members], 50), 2)}
        if "baseline" in members[0]:
            table[kind]["baseline_f1"] = _mean(r["baseline"]["f1"] for r in members)
    return table


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def _write(out_dir: Path, summary: dict, rows: list[dict]) -> None:
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    with open(out_dir / "results.jsonl", "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    _plots(out_dir, summary, rows)
    report = report_markdown(summary)
    if "errors" in summary:
        report += "\n".join(confident_wrong_markdown(rows) + examples_markdown(rows)) + "\n"
    (out_dir / "report.md").write_text(report, encoding="utf-8")


def report_markdown(summary: dict) -> str:
    skip = {"by_retrieval", "settings", "machine", "dataset", "errors", "by_kind", "baseline", "outcomes"}
    lines = [f"# Evaluation: {summary['dataset']}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary.items() if k not in skip]
    if summary.get("by_retrieval"):
        modes = list(summary["by_retrieval"])
        keys = list(next(iter(summary["by_retrieval"].values())))
        lines += ["", "## Retrieval side by side", "", "| metric | " + " | ".join(modes) + " |", "|---" * (len(modes) + 1) + "|"]
        lines += [f"| {k} | " + " | ".join(str(summary["by_retrieval"][m][k]) for m in modes) + " |" for k in keys]
    if summary.get("baseline"):
        base = summary["baseline"]
        lines += ["", f"## Beside the textbook chain ({base['name']}: dense top-4, the classic stuff prompt, the same model)",
                  "", "| measure | this reader | textbook chain |", "|---|---|---|",
                  f"| F1 | {summary.get('f1')} | {base['f1']} |", f"| EM | {summary.get('em')} | {base['em']} |",
                  f"| declined | {summary.get('abstained')} | {base['declined']} |",
                  f"| p50 ms | {summary.get('latency_ms_p50')} | {base['latency_ms_p50']} |"]
    if summary.get("by_kind"):
        with_base = any("baseline_f1" in v for v in summary["by_kind"].values())
        lines += ["", "## By question kind", "",
                  "| kind | questions | F1 | EM | declined | p50 ms |" + (" textbook F1 |" if with_base else ""),
                  "|---|---|---|---|---|---|" + ("---|" if with_base else "")]
        for kind, v in summary["by_kind"].items():
            lines.append(f"| {kind} | {v['questions']} | {v['f1']} | {v['em']} | {v['declined']} | {v['latency_ms_p50']} |"
                         + (f" {v.get('baseline_f1', '')} |" if with_base else ""))
    if summary.get("outcomes"):
        o = summary["outcomes"]
        lines += ["", "## Declined and answered", "", "| declined | answered wrongly | answered rightly |", "|---|---|---|",
                  f"| {o['declined']} | {o['answered_wrongly']} | {o['answered_rightly']} |"]
    if summary.get("errors"):
        lines += ["", "## Errors", "", "| cause | questions |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in summary["errors"].items()]
    plots = "hit_at_k.png, latency.png" + (", declining.png" if "errors" in summary else "")
    lines += ["", f"Settings: `{json.dumps(summary['settings'])}`", f"Machine: `{json.dumps(summary['machine'])}`",
              "", f"Plots: {plots}"]
    return "\n".join(lines) + "\n"


def _plots(out_dir: Path, summary: dict, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    curves = summary.get("by_retrieval") or {"retrieval": summary}
    for name, values in curves.items():
        ks = [k for k in HIT_KS if f"hit@{k}" in values]
        ax.plot(ks, [values[f"hit@{k}"] for k in ks], marker="o", label=name)
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("hit@k (answerable questions)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{summary['dataset']}: hit@k")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "hit_at_k.png", dpi=100)
    plt.close(fig)

    if "errors" in summary:
        _declining_plot(plt, out_dir, summary, rows)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist([r["timings_ms"].get("total_ms", 0) for r in rows], bins=30, color="#4c72b0")
    ax.axvline(summary["latency_ms_p50"], color="k", linestyle="--", label=f"p50 {summary['latency_ms_p50']:.0f} ms")
    ax.axvline(summary["latency_ms_p95"], color="r", linestyle=":", label=f"p95 {summary['latency_ms_p95']:.0f} ms")
    ax.set_xlabel("milliseconds per question")
    ax.set_ylabel("questions")
    ax.set_title(f"{summary['dataset']}: latency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=100)
    plt.close(fig)


def _declining_plot(plt, out_dir: Path, summary: dict, rows: list[dict]) -> None:
    """Precision and recall of declining as the confidence threshold moves; the run's own point marked."""
    unanswerable = [not r["gold"] for r in rows]
    points = declining_curve([r["confidence"] for r in rows], unanswerable)
    fig, ax = plt.subplots(figsize=(6, 4))
    if points and any(unanswerable):
        ax.plot([p[2] for p in points], [p[1] for p in points], color="#4c72b0", label="moving the threshold")
        ax.scatter([summary["abstention_recall"]], [summary["abstention_precision"]], color="#c44e52", zorder=3,
                   label="this run")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no unanswerable questions in this set", ha="center", va="center")
    ax.set_xlabel("recall of declining (unanswerable questions declined)")
    ax.set_ylabel("precision of declining")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"{summary['dataset']}: declining")
    fig.tight_layout()
    fig.savefig(out_dir / "declining.png", dpi=100)
    plt.close(fig)
