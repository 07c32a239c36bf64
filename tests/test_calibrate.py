"""`rag calibrate`: the fitted confidence orders answers by how likely they are right, the threshold keeps declining
precise, and the shipped file records what the runs asked rather than where they were written."""

import json
import random

import numpy as np
import pytest

from rag.errors import EvaluationError
from rag.evaluation import calibrate
from rag.readers.signals import calibration


def fake_run(folder, rows, dataset="fake-tune"):
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps({
        "dataset": dataset, "questions": len(rows),
        "settings": {"reader": "extractive", "gold_context": True, "rerank": True, "abstain": False}}), encoding="utf-8")
    return folder


def row(relevance, answerable, supported, abstained=False):
    signals = {name: 0.0 for name in calibrate.FEATURES["extractive"]}
    signals["relevance"] = relevance
    return {"gold": ["x"] if answerable else [], "abstained": abstained, "signals": signals,
            "scores": {"f1": 1.0 if supported else 0.0, "citation_supported": supported if answerable else None}}


def separable_rows(n=200, seed=0):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        answerable = rng.random() < 0.5
        # answerable questions tend to get a relevant sentence; the overlap makes the fit non-trivial
        relevance = rng.gauss(2.0 if answerable else -1.0, 1.0)
        rows.append(row(relevance, answerable, supported=answerable))
    return rows


def test_fit_orders_right_answers_first_and_declines_mostly_unanswerable(tmp_path):
    rows = separable_rows()
    fitted = calibrate.fit(rows, "extractive", precision=0.8)
    assert fitted.auc > 0.9
    confidences = np.array([fitted.calibration.confidence(r["signals"]) for r in rows])
    declined = confidences < fitted.calibration.threshold
    assert declined.sum() == fitted.declined > 0
    unanswerable = np.array([not r["gold"] for r in rows])
    assert unanswerable[declined].mean() >= 0.8
    assert fitted.score_declining > fitted.score_always_answering


def test_precise_threshold_is_the_highest_that_keeps_precision():
    confidences = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    unanswerable = [True, True, False, True, False]
    # below 0.45: 3 of 4 unanswerable (0.75); below 0.35: 2 of 3 (0.67); below 0.25: 2 of 2
    assert calibrate.precise_threshold(confidences, unanswerable, 0.75) == pytest.approx(0.45)
    assert calibrate.precise_threshold(confidences, unanswerable, 0.8) == pytest.approx(0.25)
    assert calibrate.precise_threshold(confidences, [False] * 5, 0.8) == 0.0


def test_runs_that_declined_are_refused(tmp_path):
    folder = fake_run(tmp_path / "run", [row(1.0, True, True, abstained=True), row(0.0, False, False)])
    with pytest.raises(EvaluationError, match="declined"):
        calibrate.load_rows([folder])
    with pytest.raises(EvaluationError, match="missing"):
        calibrate.load_rows([tmp_path / "nowhere"])


def test_write_records_what_the_runs_asked_and_round_trips(tmp_path):
    folder = fake_run(tmp_path / "scratch" / "run-1", separable_rows())
    fitted = calibrate.fit(calibrate.load_rows([folder]), "extractive")
    target = tmp_path / "calibration.json"
    calibrate.write(fitted, "extractive", [folder], path=target)
    stored = json.loads(target.read_text(encoding="utf-8"))["extractive"]
    assert stored["fitted_on"] == [{"dataset": "fake-tune", "questions": 200, "reader": "extractive",
                                    "gold_context": True, "rerank": True, "abstain": False}]
    assert str(tmp_path) not in target.read_text(encoding="utf-8")
    loaded = calibration("extractive", path=target)
    signals = separable_rows(1)[0]["signals"]
    assert loaded.confidence(signals) == pytest.approx(fitted.calibration.confidence(signals))
    assert loaded.threshold == fitted.calibration.threshold


def test_an_answer_its_no_answer_passages_stated_after_all_counts_right():
    from rag.evaluation.errors import answered_wrongly, outcome_counts

    meant_unanswerable = {**row(3.0, answerable=False, supported=False), "answer": "Barty"}
    stated = {**meant_unanswerable, "reference": ["Ashleigh Barty", "Barty"]}
    other = {**meant_unanswerable, "answer": "Serena Williams", "reference": ["Ashleigh Barty", "Barty"]}
    assert calibrate.answerable(stated) and calibrate.answer_score(stated, "f1") == 1.0
    assert not calibrate.answerable(other) and calibrate.answer_score(other, "f1") == 0.0
    assert not calibrate.answerable(meant_unanswerable)  # without the question's answers nothing is known
    assert not answered_wrongly(stated) and answered_wrongly(other)
    assert outcome_counts([stated, other]) == {"declined": 0, "answered_wrongly": 1, "answered_rightly": 1,
                                               "stated_anyway": 1}


def test_the_fit_learns_from_answers_no_answer_passages_stated():
    # A third of the "unanswerable" questions were answered from passages that state the answer: counted wrong,
    # they blur what a right answer looks like; counted right, the fit separates right from wrong again.
    rng = random.Random(1)
    rows = separable_rows(150, seed=1)
    for _ in range(75):
        stated = {**row(rng.gauss(2.0, 1.0), answerable=False, supported=False), "answer": "Barty",
                  "reference": ["Barty"]}
        rows.append(stated)
    with_reference = calibrate.fit(rows, "llm")
    without = calibrate.fit([{k: v for k, v in r.items() if k != "reference"} for r in rows], "llm")
    assert with_reference.auc > 0.9 > without.auc
