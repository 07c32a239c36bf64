"""What `rag eval` writes: the summary (retrieval, answers, declining, by kind, the baseline beside), results.jsonl,
report.md and the plots."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from rag.evaluation import metrics
from rag.evaluation.errors import (confident_wrong_markdown, contradicted_verdicts, declined_with_answer,
                                   declining_curve, error_counts, examples_markdown, outcome_counts, roc_auc)

HIT_KS = (1, 3, 5, 10, 20)


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else 0.0


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
        summary["declined_with_answer_in_passages"] = declined_with_answer(rows)
        summary["verdicts_contradicting_quote"] = contradicted_verdicts(rows)
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
    judged = judge_ms_p50(rows)
    if judged is not None:
        summary["judge_ms_p50"] = judged
    summary["by_retrieval"] = by_mode
    summary["settings"] = {
        "reader": config.reader if not eval_set.retrieval_only else None,
        "k": config.k, "mode": config.mode, "rerank": config.rerank, "rerank_depth": config.rerank_depth,
        "abstain": config.abstain, "gold_context": config.gold_context, "limit": config.limit, "embedder": config.embedder,
        "baseline": config.baseline,
    }
    summary["machine"] = {"platform": platform.platform(), "python": platform.python_version(), "cpus": _cpus()}
    return summary


def judge_ms_p50(rows: list[dict]) -> float | None:
    """The support judge's share of an answer, p50 over the answers the llm reader read (its checks of the answers it
    proposed, and of a date it completed; an answer with nothing to check counts 0); None when no row records it."""
    checked = [r["signals"]["judge_ms"] for r in rows if "judge_ms" in (r.get("signals") or {})]
    return round(metrics.percentile(checked, 50), 1) if checked else None


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
        if "stated_anyway" in o:
            lines += ["", f"The passages were meant not to hold the answers; {o['stated_anyway']} answers match an answer "
                          "the question has (they are counted right: the passages stated it after all)."]
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
