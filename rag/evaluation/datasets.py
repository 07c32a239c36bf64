"""Question sets: the project's JSONL, SQuAD JSON, BEIR folders and RGB news. Each loads into an EvalSet.

Synthetic documents (a SQuAD paragraph, a BEIR abstract, an RGB passage) get a source such as
`squad:Normans/3` so results can be traced back; relevance is keyed by the document's content hash.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from rag.errors import EvaluationError
from rag.loaders import clean_text, content_id
from rag.types import Document


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    relevant: Mapping[str, int] | None = None  # doc_id -> graded relevance, where the dataset labels passages
    documents: tuple[Document, ...] = ()  # the question's own passages (RGB), when it has its own corpus
    # The answers the question has where its passages are meant not to hold them (RGB's no-answer sets): declining is
    # still the right behaviour, but an answer matching one was stated by the passages after all, not made up.
    reference: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.answers) or bool(self.relevant)


@dataclass
class EvalSet:
    name: str
    questions: list[EvalQuestion]
    documents: list[Document] = field(default_factory=list)  # shared corpus; empty when given by --corpus/--index
    doc_level: bool = False  # rank documents rather than chunks (BEIR)
    retrieval_only: bool = False
    own_corpus_per_question: bool = False
    corpus_name: str = ""  # names the shared corpus's cached index (a fold asks part of a corpus indexed once)


def make_document(source: str, title: str, text: str) -> Document:
    cleaned = clean_text(text)
    return Document(content_id(cleaned), source, title, cleaned, {"name": source})


def load_jsonl(path: str | Path) -> EvalSet:
    """{"id": str, "question": str, "answers": [str, ...]} per line; empty answers = not answered by the documents."""
    path = Path(path)
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvaluationError(f"cannot read question set {path}: {exc.strerror or exc}", hint="check the path") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = row.get("answers", [])
            if not isinstance(row["question"], str) or not isinstance(answers, list):
                raise TypeError("question must be a string and answers a list")
            questions.append(EvalQuestion(str(row.get("id", number)), row["question"], tuple(str(a) for a in answers)))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EvaluationError(
                f"{path.name} line {number} is not a question ({exc})",
                hint='each line must be {"id": str, "question": str, "answers": [str, ...]}',
            ) from exc
    if not questions:
        raise EvaluationError(f"{path.name} holds no questions", hint="add one JSON object per line")
    return EvalSet(path.stem, questions)


def load_squad(path: str | Path, fold: str | None = None) -> tuple[EvalSet, dict[str, str]]:
    """SQuAD 2.0 JSON: corpus = all paragraphs; each question's relevant passage is its own paragraph.

    Also returns question id -> gold paragraph doc_id, for reading with the gold context. With a fold, only the
    questions of the articles in even ("tune") or odd ("test") places are asked; the corpus stays whole.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise EvaluationError(f"{path} is not a SQuAD JSON file ({exc})", hint="pass the official dev-v2.0 JSON") from exc
    documents: dict[str, Document] = {}
    questions: list[EvalQuestion] = []
    gold: dict[str, str] = {}
    if fold not in (None, "tune", "test"):
        raise EvaluationError(f"unknown fold '{fold}'", hint="use tune or test")
    for place, article in enumerate(data):
        asked = fold is None or (place % 2 == 0) == (fold == "tune")
        for number, paragraph in enumerate(article["paragraphs"]):
            doc = make_document(f"squad:{article['title']}/{number}", article["title"], paragraph["context"])
            documents.setdefault(doc.doc_id, doc)
            for qa in paragraph["qas"] if asked else ():
                answers = () if qa.get("is_impossible") else tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                relevant = {doc.doc_id: 1} if answers else None
                questions.append(EvalQuestion(qa["id"], qa["question"], answers, relevant))
                gold[qa["id"]] = doc.doc_id
    name = path.stem + (f"-{fold}" if fold else "")
    return EvalSet(name, questions, list(documents.values()), corpus_name=path.stem), gold


def load_beir(folder: str | Path, split: str = "test") -> EvalSet:
    """BEIR layout: corpus.jsonl {_id, title, text}, queries.jsonl {_id, text}, qrels/SPLIT.tsv."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not needed.is_file():
            raise EvaluationError(f"{needed} is missing", hint="pass a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")
    documents: list[Document] = []
    by_beir_id: dict[str, str] = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        text = f"{row.get('title', '')}\n\n{row['text']}".strip()
        doc = make_document(f"beir:{row['_id']}", row.get("title") or row["_id"], text)
        documents.append(doc)
        by_beir_id[str(row["_id"])] = doc.doc_id
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for row in reader:
            if not row or row[0] == "query-id":
                continue
            query_id, corpus_id, score = row[0], row[1], int(row[2])
            if corpus_id in by_beir_id:
                qrels.setdefault(query_id, {})[by_beir_id[corpus_id]] = score
    questions = []
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if str(row["_id"]) in qrels:
            questions.append(EvalQuestion(str(row["_id"]), row["text"], (), qrels[str(row["_id"])]))
    # Deduplicate identical abstracts: the index keeps one copy per content hash.
    unique = list({d.doc_id: d for d in documents}.values())
    return EvalSet(f"{folder.name}-{split}", questions, unique, doc_level=True, retrieval_only=True)


def load_rgb(path: str | Path, *, negatives_only: bool = False, fold: str | None = None) -> EvalSet:
    """RGB news: each question has its own passages. By default the right and the no-answer passages;
    with negatives_only, only passages without the answer, so the right behaviour is to decline. With a fold, the
    questions in even ("tune") or odd ("test") places."""
    path = Path(path)
    if fold not in (None, "tune", "test"):
        raise EvaluationError(f"unknown fold '{fold}'", hint="use tune or test")
    questions = []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for place, line in enumerate(lines):
        if fold is not None and (place % 2 == 0) != (fold == "tune"):
            continue
        row = json.loads(line)
        answer = row["answer"]
        answers = tuple(_flatten(answer)) if not negatives_only else ()
        reference = tuple(_flatten(answer)) if negatives_only else ()
        passages = list(row.get("negative", []))
        if not negatives_only:
            passages = list(row.get("positive", [])) + passages
        made = [make_document(f"rgb:{row['id']}/{n}", f"passage {n}", t) for n, t in enumerate(passages) if t.strip()]
        docs = tuple({d.doc_id: d for d in made}.values())
        questions.append(EvalQuestion(str(row["id"]), row["query"], answers, None, docs, reference))
    name = path.stem + ("-negatives" if negatives_only else "") + (f"-{fold}" if fold else "")
    return EvalSet(name, questions, own_corpus_per_question=True)


def _flatten(answer) -> list[str]:
    if isinstance(answer, str):
        return [answer]
    return [a for item in answer for a in _flatten(item)]


def load_hotpot(path: str | Path, fold: str | None = None) -> tuple[EvalSet, dict[str, tuple[str, ...]]]:
    """HotpotQA, processed (one JSON object a line: question_id, question_text, answers_objects[].spans, contexts[]
    with title, paragraph_text, is_supporting). The corpus is every question's paragraphs, each a document (its
    title, a blank line, its text); a question's relevant documents are its two supporting paragraphs. Also returns
    question id -> supporting doc_ids, for reading with the gold context. With a fold, the questions in even
    ("tune") or odd ("test") places are asked; the corpus stays whole."""
    path = Path(path)
    if fold not in (None, "tune", "test"):
        raise EvaluationError(f"unknown fold '{fold}'", hint="use tune or test")
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [json.loads(line) for line in lines]
    except (OSError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"{path} is not a HotpotQA JSON-lines file ({exc})",
                              hint="pass the processed file, e.g. hotpotqa_dev250.jsonl") from exc
    documents: dict[str, Document] = {}
    questions: list[EvalQuestion] = []
    gold: dict[str, tuple[str, ...]] = {}
    for place, row in enumerate(rows):
        try:
            made = [(make_document(f"hotpot:{c['title']}", c["title"], f"{c['title']}\n\n{c['paragraph_text']}"),
                     bool(c.get("is_supporting"))) for c in row["contexts"]]
            answers = tuple(dict.fromkeys(s for a in row["answers_objects"] for s in a.get("spans", ()) if s))
            qid, text = str(row["question_id"]), row["question_text"]
        except (KeyError, TypeError) as exc:
            raise EvaluationError(f"{path.name} line {place + 1} is not a HotpotQA question ({exc})",
                                  hint="each line needs question_id, question_text, answers_objects, contexts") from exc
        for doc, _ in made:
            documents.setdefault(doc.doc_id, doc)
        if fold is not None and (place % 2 == 0) != (fold == "tune"):
            continue
        supporting = tuple(dict.fromkeys(d.doc_id for d, s in made if s))
        questions.append(EvalQuestion(qid, text, answers, {d: 1 for d in supporting}))
        gold[qid] = supporting
    name = path.stem + (f"-{fold}" if fold else "")
    return EvalSet(name, questions, list(documents.values()), corpus_name=path.stem), gold
