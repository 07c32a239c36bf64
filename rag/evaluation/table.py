"""One Markdown table from several `rag eval` output folders (docs/results/TABLE.md)."""

from __future__ import annotations

import json
from pathlib import Path

from rag.questions import KINDS

COLUMNS = [
    ("questions", "questions"), ("answerable", "answerable"), ("hit@1", "hit@1"), ("hit@5", "hit@5"), ("mrr", "MRR"),
    ("ndcg@10", "nDCG@10"), ("recall@100", "R@100"), ("em", "EM"), ("f1", "F1"), ("f1_answerable", "F1 ans."),
    ("f1_unanswerable", "F1 unans."), ("citation_support", "cit. support"), ("abstention_precision", "abst. P"),
    ("abstention_recall", "abst. R"), ("abstained", "declined"), ("f1_yes_no", "F1 yes/no"),
    ("support_recall", "support R"), ("f1_vs_baseline", "F1 × textbook"), ("latency_ms_p50", "p50 ms"),
    ("latency_ms_p95", "p95 ms"),
]


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.0f}"
    return str(value)


def table(folders: list[Path]) -> str:
    summaries = [(f.name, json.loads((f / "summary.json").read_text())) for f in folders if (f / "summary.json").is_file()]
    summaries = [(name, s) for name, s in summaries if "settings" in s]  # `rag eval` runs (eval-kinds has its own report)
    lines = ["| run | retrieval | " + " | ".join(title for _, title in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for name, summary in summaries:
        settings = summary["settings"]
        mode = settings["mode"] + ("+rerank" if settings.get("rerank") else "")
        lines.append(f"| {name} | {mode} (default) | " + " | ".join(_cell(summary.get(k)) for k, _ in COLUMNS) + " |")
        for other, values in summary.get("by_retrieval", {}).items():
            if other == mode:
                continue
            if summary.get("abstained") is not None and "ndcg@10" not in values and other in ("dense", "lexical"):
                continue  # reader runs list the first stage's modes once, in the retrieval-only rows
            lines.append(f"| {name} | {other} | " + " | ".join(_cell(values.get(k)) if k in values else "" for k, _ in COLUMNS) + " |")
        if summary.get("baseline"):  # the textbook chain, asked the same questions in the same run
            base = {**summary["baseline"], "questions": summary["questions"], "answerable": summary["answerable"],
                    "abstained": summary["baseline"]["declined"]}
            lines.append(f"| {name} (textbook chain) | dense | "
                         + " | ".join(_cell(base.get(k)) if k in base else "" for k, _ in COLUMNS) + " |")
    kinds = [(name, s["by_kind"]) for name, s in summaries if s.get("by_kind")]
    if kinds:
        lines += ["", "| run | kind | questions | F1 | EM | declined | p50 ms | textbook F1 |", "|---|---|---|---|---|---|---|---|"]
        for name, by_kind in kinds:
            for kind in sorted(by_kind, key=lambda k: KINDS.index(k) if k in KINDS else 99):
                v = by_kind[kind]
                lines.append(f"| {name} | {kind} | {v['questions']} | {_cell(v['f1'])} | {_cell(v['em'])} | "
                             f"{v['declined']} | {_cell(v['latency_ms_p50'])} | {_cell(v.get('baseline_f1'))} |")
    return "\n".join(lines) + "\n"


def publish(folders: list[Path], out: Path) -> Path:
    """The table as `out/TABLE.md`, headed by the date and machine of the runs, and each run's summary.json and
    report.md copied to `out/NAME/` (the bulky results.jsonl and plots stay in the run's own folder)."""
    import shutil
    from datetime import date

    out.mkdir(parents=True, exist_ok=True)
    machines = set()
    for folder in folders:
        if not (folder / "summary.json").is_file():
            continue
        target = out / folder.name
        target.mkdir(parents=True, exist_ok=True)
        for name in ("summary.json", "report.md"):
            if (folder / name).is_file():
                shutil.copyfile(folder / name, target / name)
        machine = json.loads((folder / "summary.json").read_text()).get("machine") or {}
        if machine:
            machines.add(f"{machine.get('cpus', '?')} cores, {machine.get('platform', '?')}, Python {machine.get('python', '?')}")
    head = [f"# Evaluation results ({date.today().isoformat()})", "",
            "Written by `make eval` (`rag eval-table ... --publish docs/results`); each run's folder holds its summary.json "
            "and report.md. Machine: " + ("; ".join(sorted(machines)) or "not recorded") + ".", ""]
    (out / "TABLE.md").write_text("\n".join(head) + "\n" + table(folders), encoding="utf-8")
    return out / "TABLE.md"
