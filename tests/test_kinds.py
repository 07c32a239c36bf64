"""The labelled question-kinds set: its loader, each kind's acceptance rule, and the rules' reading of its kinds."""

import json
from pathlib import Path

import pytest

from rag.errors import EvaluationError
from rag.evaluation import kinds
from rag.evaluation.datasets import make_document
from rag.types import Answer, Citation

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
DOC = make_document("text:mail", "Office move", "The IT team moves the servers, the printers and the phone switches. "
                                                "The office closes on 30 November because the lease ends.")


def answer(text: str, short: str | None = None, *, cited: tuple[int, int] | None = (0, 67), declined=False) -> Answer:
    citations = (Citation.from_document(DOC, *cited),) if cited else ()
    return Answer("q", text, citations, (), declined, short=short, documents={DOC.doc_id: DOC})


def question(kind: str, **accept) -> kinds.KindQuestion:
    return kinds.KindQuestion("x", "q", kind, "text", accept, (DOC,))


@pytest.mark.parametrize("kind, accept, given, ok", [
    ("fact", {"answers": ["30 November"]}, answer("30 November [1]", "30 November"), True),
    ("fact", {"answers": ["30 November"]}, answer("The lease ends [1]", "The lease ends"), False),
    ("fact", {"answers": ["30 November"]}, answer("30 November", "30 November", cited=None), False),  # uncited
    ("list", {"items": ["servers", "printers", "phone switches"]}, answer("servers [1]; printers [1]; phone switches [1]"), True),
    ("list", {"items": ["servers", "printers", "phone switches"]}, answer("servers [1]"), False),
    ("yesno", {"verdict": "no"}, answer("No. The office closes … [1]", "No"), True),
    ("yesno", {"verdict": "no"}, answer("Yes. The office closes … [1]", "Yes"), False),
    ("comparison", {"answers": ["servers"]}, answer("servers. … [1]", "servers"), True),
    ("reason", {"phrases": ["lease ends"]}, answer("It closes because the lease ends. [1]", cited=(68, 124)), True),
    ("reason", {"phrases": ["lease ends"]}, answer("It closes. [1]"), False),
    ("overview", {"min_citations": 2}, answer("Office move: … [1]"), False),
    ("fact", {"answers": ["30 November"]}, answer("The documents do not say.", declined=True, cited=None), False),
])
def test_each_kind_has_its_acceptance_rule(kind, accept, given, ok):
    assert kinds.accepted(question(kind, **accept), given)[0] is ok


def test_rows_of_own_text_load_with_their_documents(tmp_path):
    set_file = tmp_path / "kinds.jsonl"
    set_file.write_text("\n".join(json.dumps(row) for row in [
        {"from": "corpus", "corpus": "mine", "documents": [{"title": "Mail", "text": "We move on 7 November."}]},
        {"id": "a", "from": "text", "corpus": "mine", "question": "When do we move?", "kind": "fact",
         "accept": {"answers": ["7 November"]}},
        {"id": "b", "from": "seed", "question": "What is this article about?", "kind": "overview"},
    ]) + "\n")
    loaded = kinds.load(set_file, tmp_path / "no-data")
    assert [(q.id, q.kind, len(q.documents)) for q in loaded] == [("a", "fact", 1), ("b", "overview", 0)]
    assert loaded[0].documents[0].text == "We move on 7 November."
    summary = kinds.kind_accuracy(loaded)
    assert summary["kind_accuracy"] == 1.0 and summary["by_kind"]["overview"]["questions"] == 1


def test_a_row_of_a_public_set_needs_its_data_and_says_where(tmp_path):
    set_file = tmp_path / "kinds.jsonl"
    set_file.write_text(json.dumps({"from": "squad", "ref": "abc", "kind": "fact"}) + "\n")
    with pytest.raises(EvaluationError, match="pass --data DIR"):
        kinds.load(set_file, tmp_path / "no-data")


@pytest.mark.skipif(not DATA.is_dir(), reason="the public evaluation data is not beside the project")
def test_the_shipped_set_is_large_varied_and_read_mostly_right():
    loaded = kinds.load(ROOT / "seeds" / "kinds.jsonl", DATA)
    summary = kinds.kind_accuracy(loaded)
    assert summary["questions"] >= 150 and all(summary["by_kind"][k]["questions"] >= 5 for k in summary["by_kind"])
    assert len(summary["by_kind"]) == 8
    # The rules were written from the tune rows; the confirm rows were labelled blind afterwards.
    assert summary["by_split"]["tune"]["kind_accuracy"] >= 0.95
    assert summary["by_split"]["confirm"]["kind_accuracy"] >= 0.8


def test_label_rows_count_in_the_kinds_read_right_and_are_never_answered(tmp_path):
    set_file = tmp_path / "labels.jsonl"
    set_file.write_text("\n".join(json.dumps(row) for row in [
        {"id": "l1", "from": "label", "question": "Why was the meeting cancelled?", "kind": "reason", "split": "confirm"},
        {"id": "l2", "from": "label", "question": "Summarize the report.", "kind": "overview", "split": "confirm"},
    ]) + "\n")
    loaded = kinds.load(set_file, tmp_path / "no-data")
    assert [(q.source, q.split, q.documents) for q in loaded] == [("label", "confirm", ()), ("label", "confirm", ())]
    assert kinds.kind_accuracy(loaded)["by_split"]["confirm"] == {"questions": 2, "kind_accuracy": 1.0}
    asked = []
    kinds.run(loaded, lambda documents: asked.append(documents), tmp_path / "out")
    assert asked == []  # nothing to answer from


def test_the_blind_labelled_questions_are_many_and_of_every_kind():
    loaded = kinds.load(ROOT / "seeds" / "kind-labels.jsonl")
    assert len(loaded) >= 200 and {q.kind for q in loaded} == set(kinds.KINDS)
    assert all(q.split == "confirm" for q in loaded)
