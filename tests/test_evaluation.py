import json
import math

import pytest

from tests.conftest import FakeReranker

from rag.errors import EvaluationError
from rag.evaluation import metrics
from rag.evaluation.datasets import load_beir, load_jsonl, load_rgb, load_squad


def test_squad_normalisation_and_scores():
    assert metrics.normalize_answer("The  Normans, (Norse)!") == "normans norse"
    assert metrics.normalize_answer("“narco-terrorism.”") == "narcoterrorism"
    assert metrics.normalize_answer("Chloé Zhao") == "chloe zhao" and metrics.exact_match("Chloe Zhao", ["Chloé Zhao"])
    assert metrics.normalize_answer("the 21st of July") == "21 of july" and metrics.f1_score("21st July", ["July 21"]) == 1.0
    assert metrics.normalize_answer("the 19th century") == "19 century"  # any ordinal up to two digits, not years
    assert metrics.exact_match("the Normans", ["Normans", "Norsemen"]) == 1.0
    # prediction 'in france in 911' vs gold 'France': 1 common token; P = 1/4, R = 1 -> F1 = 0.4
    assert metrics.f1_score("in France in 911", ["France"]) == pytest.approx(0.4)
    assert metrics.f1_score("in France in 911", ["France", "in 911"]) == pytest.approx(2 * (2 / 4) * 1 / (2 / 4 + 1))
    # The empty answer is right exactly for unanswerable questions.
    assert metrics.exact_match("", []) == 1.0 and metrics.f1_score("", []) == 1.0
    assert metrics.exact_match("something", []) == 0.0 and metrics.f1_score("", ["x"]) == 0.0


def test_contains_answer_matches_whole_words():
    assert metrics.contains_answer("They killed 152 fisherman.", ["152"])
    assert not metrics.contains_answer("They killed 1520 fisherman.", ["152"])
    assert not metrics.contains_answer("anything", [])


def test_a_whole_date_is_held_in_any_wording_and_only_that_day():
    golds = ["November 21 1998", "Nov 21, 1998"]
    assert metrics.contains_answer("It was released on November 21 of 1998 in Japan.", golds)
    assert metrics.contains_answer("Released 21st November 1998.", golds)
    assert not metrics.contains_answer("It was released on November 22 of 1998.", golds)
    assert not metrics.contains_answer("It was released in November 1998.", golds)  # says less than the gold
    assert not metrics.contains_answer("Released on November 21.", golds)
    assert not metrics.contains_answer("Released on November 21 of 1998.", ["1998 in Japan"])  # not a whole date


def test_ranking_metrics_hand_computed():
    flags = [False, True, False, True]
    assert metrics.first_relevant_rank(flags) == 2
    assert metrics.hit_at(flags, 1) == 0.0 and metrics.hit_at(flags, 2) == 1.0
    assert metrics.reciprocal_rank(flags) == 0.5
    assert metrics.reciprocal_rank(flags, 1) == 0.0
    qrels = {"a": 1, "b": 2, "z": 1}
    ranking = ["b", "x", "a"]
    dcg = 2 / math.log2(2) + 1 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at(ranking, qrels, 10) == pytest.approx(dcg / idcg)
    assert metrics.recall_at(ranking, qrels, 100) == pytest.approx(2 / 3)
    assert metrics.percentile([1, 2, 3, 4], 50) == 2.5
    assert metrics.percentile([5], 95) == 5
    assert metrics.abstention_scores([True, True, False, False], [True, False, True, False]) == (0.5, 0.5)


def test_ndcg_and_recall_agree_with_trec_eval():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    import random

    rng = random.Random(7)
    docs = [f"d{i}" for i in range(60)]
    qrels, run, ours = {}, {}, {"ndcg": [], "recall": []}
    for q in range(25):
        judged = {d: rng.choice([0, 1, 1, 2]) for d in rng.sample(docs, rng.randint(1, 6))}
        ranking = rng.sample(docs, 40)
        qrels[f"q{q}"] = judged
        run[f"q{q}"] = {d: float(100 - rank) for rank, d in enumerate(ranking)}
        ours["ndcg"].append(metrics.ndcg_at(ranking, judged, 10))
        ours["recall"].append(metrics.recall_at(ranking, judged, 100))
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"})
    reference = evaluator.evaluate(run)
    for number, q in enumerate(sorted(qrels, key=lambda x: int(x[1:]))):
        assert ours["ndcg"][number] == pytest.approx(reference[q]["ndcg_cut_10"], abs=1e-4)
        assert ours["recall"][number] == pytest.approx(reference[q]["recall_100"], abs=1e-4)


def test_jsonl_loader_and_its_errors(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Who?", "answers": ["Ann"], "extra": 1}\n\n{"id": "b", "question": "Why?", "answers": []}\n')
    questions = load_jsonl(path).questions
    assert [(q.id, q.answers, q.answerable) for q in questions] == [("a", ("Ann",), True), ("b", (), False)]
    path.write_text('{"id": "a", "answers": []}\n')
    with pytest.raises(EvaluationError, match="line 1 is not a question"):
        load_jsonl(path)


def test_squad_beir_and_rgb_loaders(tmp_path):
    squad = {"data": [{"title": "T", "paragraphs": [{"context": "Ann lives in Rome.", "qas": [
        {"id": "1", "question": "Where does Ann live?", "answers": [{"text": "Rome", "answer_start": 13}], "is_impossible": False},
        {"id": "2", "question": "Where does Bob live?", "answers": [], "is_impossible": True}]}]}]}
    (tmp_path / "s.json").write_text(json.dumps(squad))
    eval_set, gold = load_squad(tmp_path / "s.json")
    assert len(eval_set.documents) == 1 and gold["1"] == gold["2"] == eval_set.documents[0].doc_id
    assert eval_set.questions[0].relevant == {gold["1"]: 1} and eval_set.questions[1].relevant is None

    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text('{"_id": "10", "title": "A", "text": "alpha"}\n{"_id": "11", "title": "B", "text": "beta"}\n')
    (beir / "queries.jsonl").write_text('{"_id": "1", "text": "alpha?"}\n{"_id": "2", "text": "unjudged"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\t10\t1\n")
    eval_set = load_beir(beir)
    assert [q.id for q in eval_set.questions] == ["1"] and eval_set.doc_level and eval_set.retrieval_only
    assert list(eval_set.questions[0].relevant.values()) == [1]

    (tmp_path / "rgb.json").write_text(json.dumps({"id": 0, "query": "Q?", "answer": ["X", ["Y"]], "positive": ["X is it"], "negative": ["no", "nope"]}) + "\n")
    full = load_rgb(tmp_path / "rgb.json")
    assert full.questions[0].answers == ("X", "Y") and len(full.questions[0].documents) == 3
    negatives = load_rgb(tmp_path / "rgb.json", negatives_only=True)
    assert negatives.questions[0].answers == () and len(negatives.questions[0].documents) == 2
    # the question's answers travel as a reference: an answer matching one was stated after all, not made up
    assert negatives.questions[0].reference == ("X", "Y") and full.questions[0].reference == ()


def test_eval_run_writes_every_report(tmp_path, fake_embedder, corpus_dir):
    from rag.assistant import Assistant, Settings
    from rag.evaluation.datasets import EvalSet, EvalQuestion
    from rag.evaluation.runner import EvalConfig, run
    from rag.loaders import load_paths

    eval_set = EvalSet("mini", [
        EvalQuestion("1", "When was the lava lake of Kilauea drained?", ("2018",)),
        EvalQuestion("2", "What is the boiling point of mercury?", ()),
    ], load_paths([corpus_dir]).documents)
    factory = lambda folder: Assistant(Settings(index_dir=folder or tmp_path / "scratch"), embedder=fake_embedder, reranker=FakeReranker())  # noqa: E731
    summary = run(eval_set, factory, EvalConfig(), tmp_path / "out", cache_root=tmp_path / "cache")
    for name in ("summary.json", "results.jsonl", "report.md", "hit_at_k.png", "latency.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert summary["questions"] == 2 and summary["answerable"] == 1
    assert summary["hit@1"] == 1.0 and summary["citation_support"] == 1.0
    assert summary["abstention_recall"] == 1.0 and summary["abstention_precision"] == 1.0
    assert summary["em"] == 1.0 and summary["f1"] == 1.0
    assert set(summary["by_retrieval"]) == {"dense", "lexical", "hybrid", "hybrid+rerank"}
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert rows[0]["citations"][0]["quote"] == "Its lava lake was drained in 2018."


@pytest.mark.parametrize("rerank", [True, False])
def test_questions_with_their_own_passages_follow_the_rerank_setting(tmp_path, fake_embedder, rerank):
    from rag.assistant import Assistant, Settings
    from rag.evaluation.runner import EvalConfig, run
    from rag.evaluation.table import table

    (tmp_path / "rgb.json").write_text(json.dumps({
        "id": 0, "query": "Which river flows through Vienna?", "answer": ["Danube"],
        "positive": ["The Danube flows through Vienna and Budapest."], "negative": ["Vienna hosts many concerts."]}) + "\n")
    reranker = FakeReranker()
    calls = []
    score = reranker.score
    reranker.score = lambda question, texts: calls.append(len(texts)) or score(question, texts)
    factory = lambda folder: Assistant(Settings(index_dir=folder or tmp_path / "scratch"), embedder=fake_embedder, reranker=reranker)  # noqa: E731
    run(load_rgb(tmp_path / "rgb.json"), factory, EvalConfig(rerank=rerank, reader=None), tmp_path / "out", cache_root=tmp_path / "cache")
    assert bool(calls) == rerank
    label = "hybrid+rerank (default)" if rerank else "hybrid (default)"
    assert f"| out | {label} |" in table([tmp_path / "out"])


def test_hotpot_lines_load_with_their_supporting_paragraphs(tmp_path):
    import json as _json

    from rag.evaluation import datasets

    rows = [{"question_id": f"q{n}", "question_text": text, "answers_objects": [{"spans": [answer]}],
             "contexts": [{"id": "0", "title": "Etna", "paragraph_text": "Etna is a volcano in Sicily.", "is_supporting": True},
                          {"id": "1", "title": "Rhine", "paragraph_text": "The Rhine rises in the Alps.", "is_supporting": n == 1},
                          {"id": "2", "title": "Po", "paragraph_text": "The Po flows east.", "is_supporting": False}]}
            for n, (text, answer) in enumerate([("Where is Etna?", "Sicily"), ("Are Etna and the Rhine in Italy?", "no")])]
    path = tmp_path / "hotpot.jsonl"
    path.write_text("\n".join(_json.dumps(r) for r in rows), encoding="utf-8")
    eval_set, gold = datasets.load_hotpot(path)
    assert len(eval_set.documents) == 3 and [q.answers for q in eval_set.questions] == [("Sicily",), ("no",)]
    etna = next(d for d in eval_set.documents if d.title == "Etna")
    assert etna.text == "Etna\n\nEtna is a volcano in Sicily."  # the title, a blank line, the paragraph
    assert gold["q0"] == (etna.doc_id,) and len(gold["q1"]) == 2
    assert set(eval_set.questions[1].relevant) == set(gold["q1"])
    tune, _ = datasets.load_hotpot(path, fold="tune")
    assert [q.id for q in tune.questions] == ["q0"] and len(tune.documents) == 3  # the corpus stays whole


def test_the_per_kind_table_scores_each_kind_apart():
    from rag.evaluation.report import _by_kind

    rows = [{"kind": "yesno", "scores": {"f1": 1.0, "em": 1.0}, "abstained": False, "timings_ms": {"total_ms": 100.0}},
            {"kind": "yesno", "scores": {"f1": 0.0, "em": 0.0}, "abstained": True, "timings_ms": {"total_ms": 300.0}},
            {"kind": "fact", "scores": {"f1": 0.5, "em": 0.0}, "abstained": False, "timings_ms": {"total_ms": 50.0}}]
    table = _by_kind(rows)
    assert table["yesno"] == {"questions": 2, "f1": 0.5, "em": 0.5, "declined": 1, "latency_ms_p50": 200.0}
    assert table["fact"]["f1"] == 0.5


def test_the_judges_share_of_an_answer_is_its_median_over_the_answers_that_record_it():
    from rag.evaluation.report import judge_ms_p50

    rows = [{"signals": {"judge_ms": ms}} for ms in (0.0, 300.0, 400.0, 350.0)] + [{"signals": {}}, {}]
    assert judge_ms_p50(rows) == 325.0  # the two rows without it (another reader, no reading) are left out
    assert judge_ms_p50([{"signals": {"verified": 1.0}}]) is None


def test_outcomes_and_the_most_confident_wrong_answers():
    from rag.evaluation.errors import confident_wrong_markdown, outcome_counts

    def row(question, gold, answer, f1, confidence, abstained=False):
        return {"question": question, "gold": gold, "answer": answer, "abstained": abstained,
                "confidence": confidence, "scores": {"f1": f1}, "citations": []}

    rows = [row("right?", ["Oslo"], "Oslo", 1.0, 0.9), row("wrong?", ["Oslo"], "Bergen", 0.0, 0.7),
            row("unanswerable?", [], "Tromsø", 0.0, 0.95), row("declined?", [], "", 0.0, 0.1, abstained=True)]
    assert outcome_counts(rows) == {"declined": 1, "answered_wrongly": 2, "answered_rightly": 1}
    lines = confident_wrong_markdown(rows)
    listed = [line for line in lines if line.startswith("- ")]
    assert [line.split("**")[1] for line in listed] == ["unanswerable?", "wrong?"]  # surest first


def test_a_scoped_eval_retrieves_and_cites_only_its_documents(tmp_path, fake_embedder, corpus_dir):
    from rag.assistant import Assistant, Settings
    from rag.errors import RagError
    from rag.evaluation.datasets import EvalQuestion, EvalSet
    from rag.evaluation.runner import EvalConfig, run
    from rag.loaders import load_paths

    eval_set = EvalSet("mini", [
        EvalQuestion("1", "When was the lava lake of Kilauea drained?", ("2018",)),
        EvalQuestion("2", "Where does the Rhine rise?", ("Swiss Alps",)),
    ], load_paths([corpus_dir]).documents)
    factory = lambda folder: Assistant(Settings(index_dir=folder or tmp_path / "scratch"), embedder=fake_embedder, reranker=FakeReranker())  # noqa: E731
    run(eval_set, factory, EvalConfig(sources=("rivers.txt",)), tmp_path / "out", cache_root=tmp_path / "cache")
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert all(h["source"].endswith("rivers.txt") for row in rows for h in row["hits"]) and rows[0]["hits"]
    assert all(c["source"].endswith("rivers.txt") for row in rows for c in row["citations"])
    assert rows[1]["citations"] and "Swiss Alps" in rows[1]["citations"][0]["quote"]
    assert not rows[0]["citations"]  # the volcano question has nothing to go on inside the scope
    with pytest.raises(RagError, match="no indexed document matches"):
        run(eval_set, factory, EvalConfig(where=("type:pdf",)), tmp_path / "out2", cache_root=tmp_path / "cache")


def test_declined_with_the_answer_in_the_passages_and_verdicts_their_quote_contradicts_are_counted():
    from rag.evaluation.errors import contradicted_verdicts, declined_with_answer

    rows = [
        {"abstained": True, "passages_hold_answer": True},  # over-declined
        {"abstained": True, "passages_hold_answer": False},  # nothing to find: declining was right
        {"abstained": False, "passages_hold_answer": True},
        {"abstained": False, "short": "Yes", "answer": "Yes", "signals": {"quote_p_yes": 0.2}},  # contradicted
        {"abstained": False, "short": "No", "answer": "No", "signals": {"quote_p_yes": 0.1}},
        {"abstained": False, "short": "Yes", "answer": "Yes", "signals": {"quote_p_yes": 0.9}},
        {"abstained": False, "short": "Leeds", "answer": "Leeds", "signals": {"quote_p_yes": 0.1}},  # not a verdict
    ]
    assert declined_with_answer(rows) == 1
    assert contradicted_verdicts(rows) == 1


def test_published_results_hold_the_table_with_its_date_and_machine_and_each_runs_summary(tmp_path, fake_embedder, corpus_dir):
    import json as _json

    from rag.evaluation.table import publish

    run_dir = tmp_path / "runs" / "seeds"
    run_dir.mkdir(parents=True)
    summary = {"dataset": "x", "questions": 2, "answerable": 2, "f1": 0.5, "settings": {"mode": "hybrid", "rerank": True},
               "machine": {"cpus": 2, "platform": "Linux", "python": "3.11"}}
    (run_dir / "summary.json").write_text(_json.dumps(summary))
    (run_dir / "report.md").write_text("# report")
    (run_dir / "results.jsonl").write_text("{}\n")
    kinds_dir = tmp_path / "runs" / "kinds"
    kinds_dir.mkdir()
    (kinds_dir / "summary.json").write_text(_json.dumps({"questions": 1, "kind_accuracy": 1.0}))
    written = publish([run_dir, kinds_dir], tmp_path / "docs")
    text = written.read_text()
    assert "2 cores, Linux, Python 3.11" in text and "| seeds | hybrid+rerank (default) |" in text
    assert (tmp_path / "docs" / "seeds" / "report.md").read_text() == "# report"
    assert not (tmp_path / "docs" / "seeds" / "results.jsonl").exists()  # the bulky rows stay with the run
    assert (tmp_path / "docs" / "kinds" / "summary.json").exists()
