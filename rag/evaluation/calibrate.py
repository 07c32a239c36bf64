"""`rag calibrate`: fit the readers' confidence on evaluation runs and choose where to decline.

Input: folders written by `rag eval --no-abstain` (every question answered, each row with the reader's signals).
A logistic regression (scikit-learn) learns the probability that the answer is right from the signals, centred
and scaled. "Right" depends on what the reader shows: the llm reader's short answer is right at F1 >= 0.5; the
extractive reader answers with a sentence (or a name, date or number in it), which is right when it holds a gold
answer. The threshold is where declining stays precise: the highest confidence below which at least `precision` (0.8) of
the declined questions are really unanswerable. A person loses an answer every time an answerable question is
declined, so the reader declines only where the evidence says it is most likely right to; a threshold chosen for
the best score on SQuAD 2.0 instead (whose unanswerable questions are half of all and written to look answerable)
declined half of the answerable seed questions. `score_declining` reports how the runs score at that threshold:
declining scores 1 on an unanswerable question and 0 on an answerable one; an answer scores its F1 (llm) or 1 when
its citation holds a gold answer (extractive), and 0 on an unanswerable question. A question whose passages were
meant not to hold the answer but do (an RGB no-answer set whose answer matches the question's own, see
`stated_anyway`) counts as answerable and its answer as right: counting it wrong taught the confidence to decline
answers its passages state. Fit on one part of the data (e.g. `--fold tune`) and check on another: the shipped file
records which runs it came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import EvaluationError
from rag.evaluation.errors import MISS_F1, roc_auc, stated_anyway
from rag.readers.signals import CALIBRATION_FILE, Calibration

FEATURES: dict[str, tuple[str, ...]] = {
    "extractive": ("relevance", "margin", "lexical", "missing_sentence", "missing_document", "typed_missing"),
    "llm": ("relevance", "margin", "lexical", "missing_sentence", "missing_document", "typed_missing",
            "none_probability", "answer_logprob", "model_declined", "sentence_rank", "verified"),
}
RIGHT_F1 = 0.5
# What an answer scores: its F1, or whether its cited sentence holds a gold answer.
OBJECTIVES = {"extractive": "support", "llm": "f1"}


@dataclass(frozen=True)
class Fitted:
    calibration: Calibration
    rows: int
    auc: float  # how well the confidence tells right answers from the rest
    score_always_answering: float  # the objective's mean when nothing is declined
    score_declining: float  # and when answers below the threshold are declined
    declined: int


def load_rows(folders: Sequence[Path]) -> list[dict]:
    rows = []
    for folder in folders:
        path = Path(folder) / "results.jsonl"
        if not path.is_file():
            raise EvaluationError(f"{path} is missing", hint="pass folders written by `rag eval --no-abstain`")
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("signals") and "f1" in row.get("scores", {}) and not row["signals"].get("metadata"):
                rows.append(row)
    if not rows:
        raise EvaluationError("no answered questions with signals in those runs",
                              hint="run `rag eval ... --no-abstain` with a reader first")
    if any(r["abstained"] for r in rows):
        raise EvaluationError("some runs declined questions", hint="calibrate on runs made with --no-abstain")
    return rows


def answerable(row: dict) -> bool:
    """Has a gold answer, or its passages stated the answer after all."""
    return bool(row["gold"]) or stated_anyway(row) >= MISS_F1


def answer_score(row: dict, objective: str) -> float:
    """What answering this row scores (0 for any answer to an unanswerable question)."""
    if not row["gold"]:
        held = stated_anyway(row)
        return (held if objective == "f1" else 1.0) if held >= MISS_F1 else 0.0
    if objective == "f1":
        return float(row["scores"]["f1"])
    return float(bool(row["scores"].get("citation_supported")))


def fit(rows: Sequence[dict], reader: str, *, regularisation: float = 1.0, precision: float = 0.8) -> Fitted:
    from sklearn.linear_model import LogisticRegression

    names = FEATURES[reader]
    objective = OBJECTIVES[reader]
    x = np.array([[float(r["signals"].get(n, 0.0)) for n in names] for r in rows])
    right = np.array([answer_score(r, objective) >= RIGHT_F1 for r in rows])
    if right.all() or not right.any():
        raise EvaluationError("the runs hold only right or only wrong answers", hint="add runs with both")
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales == 0] = 1.0
    model = LogisticRegression(C=regularisation, max_iter=1000).fit((x - means) / scales, right)
    draft = Calibration(names, tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]), 0.0,
                        tuple(float(m) for m in means), tuple(float(s) for s in scales))
    confidences = np.array([draft.confidence(r["signals"]) for r in rows])
    threshold = precise_threshold(confidences, [not answerable(r) for r in rows], precision)
    calibrated = Calibration(draft.features, draft.weights, draft.bias, threshold, draft.means, draft.scales)
    return Fitted(
        calibrated, len(rows),
        round(roc_auc(list(confidences[right]), list(confidences[~right])), 4),
        round(score_declining_below(confidences, rows, 0.0, objective), 4),
        round(score_declining_below(confidences, rows, threshold, objective), 4),
        int((confidences < threshold).sum()),
    )


def precise_threshold(confidences: np.ndarray, unanswerable: Sequence[bool], precision: float) -> float:
    """The highest threshold at which declining everything below it is right at least `precision` of the time."""
    order = np.argsort(confidences, kind="stable")
    hits = np.cumsum(np.asarray(unanswerable, dtype=float)[order])
    counts = np.arange(1, len(order) + 1)
    precise = np.nonzero(hits / counts >= precision)[0]
    if not len(precise):
        return 0.0
    last = int(precise[-1])
    # Halfway to the next confidence, so that the rows counted as declined stay below it.
    above = confidences[order[last + 1]] if last + 1 < len(order) else confidences[order[last]] + 1e-4
    return round(float((confidences[order[last]] + above) / 2), 4)


def score_declining_below(confidences: np.ndarray, rows: Sequence[dict], threshold: float, objective: str) -> float:
    scores = [(0.0 if answerable(r) else 1.0) if c < threshold else answer_score(r, objective)
              for c, r in zip(confidences, rows)]
    return float(np.mean(scores))


def describe_run(folder: Path) -> dict:
    """What an evaluation run asked (its data set and settings, from its summary.json), not where it was written."""
    summary_path = Path(folder) / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    settings = summary.get("settings", {})
    return {"dataset": summary.get("dataset", Path(folder).name), "questions": summary.get("questions"),
            **{key: settings[key] for key in ("reader", "gold_context", "rerank", "abstain", "embedder") if key in settings}}


def write(fitted: Fitted, reader: str, folders: Sequence[Path], path: Path = CALIBRATION_FILE) -> None:
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data[reader] = {**fitted.calibration.as_dict(), "fitted_on": [describe_run(f) for f in folders], "rows": fitted.rows,
                    "auc": fitted.auc, "objective": OBJECTIVES[reader],
                    "score_always_answering": fitted.score_always_answering, "score_declining": fitted.score_declining}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
