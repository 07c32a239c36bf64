"""The labelled question-kinds set: is each question's kind read right, and would a person accept its answer?

A set is JSON lines. Each row names a kind (its label, given by a person), an acceptance rule's data, and where the
question and its documents come from:

- `"from": "seed"`: `question` over the seed corpus;
- `"from": "text"`: `question` over the row's own `documents` ([{"title", "text"}], or the set's header documents
  named by `"corpus"`);
- `"from": "label"`: `question` and its kind only (`seeds/kind-labels.jsonl`): counted in how often kinds are read
  right, never answered;
- `"from": "squad" | "hotpot" | "rgb"`: `ref` is the question's id in that public set (read from the data folder,
  never copied): the question, its gold answers and its documents (SQuAD: its paragraph; HotpotQA: its two
  supporting paragraphs; RGB: its answering passages).

Acceptance, per kind (what a person asking that kind of question would take as an answer; every accepted answer is
not declined and cites at least one span):
- fact, two-step: the crisp answer matches a gold answer (contains it, or SQuAD F1 >= 0.5);
- list: at least 80% of the gold `items` are named in the answer;
- yesno: the verdict ("Yes"/"No") is the gold one;
- comparison: the chosen option matches the gold answer (as for a fact);
- reason, description: the answer or a cited span holds one of the gold `phrases` (the words that state it);
- overview: at least `min_citations` cited sentences (default 2), from at least `documents` documents (default 1).

Every answer is produced by `Assistant.ask`, the path the chat and CLI use.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rag.errors import EvaluationError
from rag.evaluation import datasets, errors, metrics
from rag.evaluation.datasets import make_document
from rag.questions import KINDS, classify
from rag.types import Answer, Document

SOURCES = ("seed", "text", "squad", "hotpot", "rgb", "label")
DATA_FILES = {"squad": "squad-v2-dev/dev-v2.0-25articles.json", "hotpot": "hotpotqa-dev250/hotpotqa_dev250.jsonl",
              "rgb": "rgb-en-fact/en_fact.json"}


@dataclass(frozen=True)
class KindQuestion:
    id: str
    question: str
    kind: str
    source: str
    accept: dict = field(default_factory=dict)  # answers / items / verdict / phrases / min_citations / documents
    documents: tuple[Document, ...] = ()  # empty for the seed corpus
    split: str = "tune"  # "confirm": labelled blind after the rules were last changed, to check them on


def load(path: str | Path, data_dir: str | Path | None = None) -> list[KindQuestion]:
    """The set's rows, with the public sets' questions read from `data_dir` (needed only when rows refer to them)."""
    path = Path(path)
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"{path} is not a kinds set ({exc})", hint="one JSON object a line; see rag/evaluation/kinds.py") from exc
    corpora = {r["corpus"]: tuple(make_document(f"text:{d['title']}", d["title"], d["text"]) for d in r["documents"])
               for r in rows if r.get("from") == "corpus"}
    public = _PublicData(Path(data_dir) if data_dir else path.parent.parent.parent / "shared" / "data")
    questions = []
    for number, row in enumerate(rows, start=1):
        source = row.get("from")
        if source == "corpus":
            continue
        if source not in SOURCES or row.get("kind") not in KINDS:
            raise EvaluationError(f"{path.name} line {number}: 'from' must be one of {', '.join(SOURCES)} and 'kind' "
                                  f"one of {', '.join(KINDS)}", hint="fix the row")
        accept = dict(row.get("accept") or {})
        if source == "label":  # a question and its kind only: how often the kind is read right
            questions.append(KindQuestion(row.get("id") or f"{path.stem}-{number}", row["question"], row["kind"],
                                          source, {}, (), row.get("split", "tune")))
            continue
        if source in ("seed", "text"):
            documents = corpora.get(row.get("corpus"), ()) if source == "text" else ()
            if source == "text" and not documents:
                raise EvaluationError(f"{path.name} line {number}: no corpus named {row.get('corpus')!r}",
                                      hint="add a {\"from\": \"corpus\", ...} row before it")
            questions.append(KindQuestion(row.get("id") or f"{path.stem}-{number}", row["question"], row["kind"],
                                          source, accept, documents, row.get("split", "tune")))
            continue
        question, answers, documents = public.get(source, str(row["ref"]))
        accept.setdefault("answers", list(answers))
        if row["kind"] == "list" and answers:
            # The gold answer of a list question names its items: "primary law, secondary law and case law".
            accept.setdefault("items", [i for i in re.split(r",\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+", answers[0]) if i.strip()])
        questions.append(KindQuestion(f"{source}:{row['ref']}", question, row["kind"], source, accept, documents,
                                      row.get("split", "tune")))
    return questions


class _PublicData:
    """Questions of the public sets by id, read lazily from the shared data folder."""

    def __init__(self, root: Path):
        self.root = root
        self._by_id: dict[str, dict] = {}

    def get(self, source: str, ref: str) -> tuple[str, tuple[str, ...], tuple[Document, ...]]:
        if source not in self._by_id:
            file = self.root / DATA_FILES[source]
            if not file.is_file():
                raise EvaluationError(f"{file} is missing: the set refers to {source} questions",
                                      hint="pass --data DIR, the folder holding the public evaluation data")
            self._by_id[source] = getattr(self, f"_{source}")(file)
        try:
            return self._by_id[source][ref]
        except KeyError:
            raise EvaluationError(f"no {source} question with id {ref}", hint="check the set's ref") from None

    # The project's own loaders of these sets (rag.evaluation.datasets) read them; here each question is keyed by id.

    @staticmethod
    def _squad(file: Path) -> dict:
        eval_set, gold = datasets.load_squad(file)
        documents = {d.doc_id: d for d in eval_set.documents}
        return {q.id: (q.question, q.answers, (documents[gold[q.id]],)) for q in eval_set.questions}

    @staticmethod
    def _hotpot(file: Path) -> dict:
        eval_set, gold = datasets.load_hotpot(file)
        documents = {d.doc_id: d for d in eval_set.documents}
        return {q.id: (q.question, q.answers, tuple(documents[d] for d in gold[q.id])) for q in eval_set.questions}

    @staticmethod
    def _rgb(file: Path) -> dict:
        """Each question with its answering passages only (its no-answer ones are the declining sets' business)."""
        without = {q.id: {d.doc_id for d in q.documents} for q in datasets.load_rgb(file, negatives_only=True).questions}
        return {q.id: (q.question, q.answers, tuple(d for d in q.documents if d.doc_id not in without[q.id]))
                for q in datasets.load_rgb(file).questions}


# ----- acceptance ---------------------------------------------------------------------------------------------


def _matches(text: str, golds) -> bool:
    return bool(text) and bool(golds) and (metrics.contains_answer(text, golds) or metrics.f1_score(text, golds) >= 0.5)


def _holds_answer(question: KindQuestion, answer: Answer) -> bool | None:
    """Whether a passage the reader was given holds a gold answer (None for kinds without gold answers)."""
    golds = question.accept.get("answers") or question.accept.get("items") or question.accept.get("phrases")
    if not golds or question.kind == "yesno":
        return None
    return any(metrics.contains_answer(h.chunk.text, golds) for h in answer.hits)


def accepted(question: KindQuestion, answer: Answer) -> tuple[bool, str]:
    """Whether a person would accept the answer to this kind of question, and why not."""
    if answer.abstained:
        return False, "declined"
    if not answer.citations:
        return False, "nothing cited"
    rule, shown = question.accept, answer.short or answer.text
    if question.kind in ("fact", "two-step", "comparison"):
        return (True, "") if _matches(shown, rule.get("answers", ())) else (False, "not the gold answer")
    if question.kind == "yesno":
        gold = str(rule.get("verdict") or next(iter(rule.get("answers", ())), "")).strip().lower()
        verdict = (answer.short or answer.text.split(".")[0]).strip().lower()
        return (True, "") if verdict == gold else (False, f"verdict {verdict or '(none)'}, gold {gold}")
    if question.kind == "list":
        items = rule.get("items", ())
        found = sum(metrics.contains_answer(answer.text, [item]) for item in items)
        share = found / len(items) if items else 0.0
        return (True, "") if share >= 0.8 else (False, f"{found} of {len(items)} items")
    if question.kind in ("reason", "description"):
        said = " ".join([answer.text] + [c.quote for c in answer.citations])
        return (True, "") if metrics.contains_answer(said, rule.get("phrases", ())) else (False, "does not state it")
    cited_documents = len({c.doc_id for c in answer.citations})
    enough = len(answer.citations) >= rule.get("min_citations", 2) and cited_documents >= rule.get("documents", 1)
    return (True, "") if enough else (False, f"{len(answer.citations)} citations from {cited_documents} documents")


# ----- the run --------------------------------------------------------------------------------------------------


def kind_accuracy(questions: list[KindQuestion]) -> dict:
    """How often the rules read each kind right (no model involved), with the confusions."""
    confusion: Counter = Counter()
    for question in questions:
        confusion[(question.kind, classify(question.question).kind)] += 1
    by_kind = {}
    for kind in KINDS:
        total = sum(n for (gold, _), n in confusion.items() if gold == kind)
        if total:
            by_kind[kind] = {"questions": total, "kind_accuracy": round(confusion[(kind, kind)] / total, 3)}
    right = sum(n for (gold, got), n in confusion.items() if gold == got)
    by_split = {}
    for split in sorted({q.split for q in questions}):
        asked = [q for q in questions if q.split == split]
        by_split[split] = {"questions": len(asked), "kind_accuracy": round(
            sum(classify(q.question).kind == q.kind for q in asked) / len(asked), 3)}
    return {"questions": len(questions), "kind_accuracy": round(right / max(len(questions), 1), 3), "by_split": by_split,
            "by_kind": by_kind,
            "confusions": {f"{gold} -> {got}": n for (gold, got), n in confusion.most_common() if gold != got}}


def run(questions: list[KindQuestion], assistant_for: Callable[[tuple[Document, ...]], object], out_dir: Path,
        *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Ask every question with the auto reader; writes summary.json, results.jsonl and report.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = kind_accuracy(questions)
    rows, assistants = [], {}
    questions = [q for q in questions if q.source != "label"]  # no documents to answer from: kinds only
    for number, question in enumerate(questions, start=1):
        key = tuple(d.doc_id for d in question.documents)
        if key not in assistants:
            assistants[key] = assistant_for(question.documents)
        started = time.perf_counter()
        first_words = None
        for event, value in assistants[key].ask_stream(question.question, reader="auto"):
            if event in ("partial", "answer") and first_words is None:
                first_words = time.perf_counter() - started  # what a person waits before words appear
            if event == "answer":
                answer = value
        seconds = time.perf_counter() - started
        ok, why = accepted(question, answer)
        rows.append({"id": question.id, "source": question.source, "question": question.question,
                     "kind": question.kind, "kind_read": answer.kind or classify(question.question).kind,
                     "accepted": ok, "why_not": why, "answer": answer.text, "short": answer.short,
                     "abstained": answer.abstained, "accept": question.accept, "seconds": round(seconds, 2),
                     "first_words_s": round(first_words, 2), "signals": dict(answer.signals),
                     "passages_hold_answer": _holds_answer(question, answer),
                     "citations": [{"source": c.source, "start": c.start, "end": c.end, "quote": c.quote}
                                   for c in answer.citations]})
        if progress is not None:
            progress(number, len(questions))
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["kind"]].append(row)
    for kind, group in grouped.items():
        summary["by_kind"][kind].update({
            "accepted": round(sum(r["accepted"] for r in group) / len(group), 3),
            "p50_s": round(metrics.percentile([r["seconds"] for r in group], 50), 2),
            "first_words_p50_s": round(metrics.percentile([r["first_words_s"] for r in group], 50), 2)})
    summary["accepted"] = round(sum(r["accepted"] for r in rows) / max(len(rows), 1), 3)
    splits = {q.id: q.split for q in questions}
    for split, values in summary["by_split"].items():
        asked = [r for r in rows if splits[r["id"]] == split]
        values["accepted"] = round(sum(r["accepted"] for r in asked) / max(len(asked), 1), 3)
    summary["declined_with_answer_in_passages"] = errors.declined_with_answer(rows)
    summary["verdicts_contradicting_quote"] = errors.contradicted_verdicts(rows)
    summary["p50_s"] = round(metrics.percentile([r["seconds"] for r in rows], 50), 2) if rows else 0.0
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out_dir / "report.md").write_text(report_markdown(summary, rows), encoding="utf-8")
    return summary


def report_markdown(summary: dict, rows: list[dict]) -> str:
    lines = ["# Question kinds", "",
             f"{summary['questions']} questions; kind read right {summary['kind_accuracy']:.1%}"
             + (f"; answers accepted {summary['accepted']:.1%} (p50 {summary['p50_s']} s)" if "accepted" in summary else ""),
             "", "| kind | questions | kind read right | accepted | p50 s | first words p50 s |", "|---|---|---|---|---|---|"]
    for kind, values in summary["by_kind"].items():
        lines.append(f"| {kind} | {values['questions']} | {values['kind_accuracy']:.1%} | "
                     f"{values.get('accepted', float('nan')):.1%} | {values.get('p50_s', '–')} | "
                     f"{values.get('first_words_p50_s', '–')} |")
    lines += ["", "| split | questions | kind read right | accepted |", "|---|---|---|---|"]
    lines += [f"| {split} | {v['questions']} | {v['kind_accuracy']:.1%} | {v.get('accepted', float('nan')):.1%} |"
              for split, v in summary["by_split"].items()]
    if "accepted" in summary:
        lines += ["", f"Declined with the answer in the passages: {summary['declined_with_answer_in_passages']}; "
                  f"yes/no verdicts whose quote, read alone, says otherwise: {summary['verdicts_contradicting_quote']}"]
    if summary["confusions"]:
        lines += ["", "Kinds read wrongly (label -> read): "
                  + ", ".join(f"{k}: {n}" for k, n in summary["confusions"].items())]
    missed = [r for r in rows if not r["accepted"]]
    if missed:
        lines += ["", "## Not accepted", ""]
        lines += [f"- [{r['kind']}] {r['question']} → {r['answer'][:200]!r} ({r['why_not']})" for r in missed]
    return "\n".join(lines) + "\n"
