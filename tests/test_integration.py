"""End to end with the real packaged all-MiniLM-L6-v2 on the seed article."""

import json
from pathlib import Path

import pytest

from rag import cli
from rag.assistant import Assistant, Settings
from rag.paths import SEED_CORPUS
from rag.loaders import load_file

pytestmark = pytest.mark.integration
SEED_FILES = sorted(SEED_CORPUS.glob("*.txt"))


@pytest.fixture(scope="session")
def real_embedder():
    from rag.embedding import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def seed_assistant(tmp_path_factory, real_embedder):
    instance = Assistant(Settings(index_dir=tmp_path_factory.mktemp("seed") / "idx"), embedder=real_embedder)
    instance.index_paths([SEED_CORPUS])
    return instance


def test_packaged_model_is_found_offline(real_embedder):
    assert real_embedder.dimension == 384
    assert real_embedder.max_tokens == 254
    vectors = real_embedder.embed_documents(["a cat sat on the mat", "a kitten sat on the rug", "quarterly tax rates"])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_no_chunk_exceeds_the_model_window(seed_assistant, real_embedder):
    for chunk in seed_assistant.store.chunks():
        assert real_embedder.count_tokens(chunk.text) <= seed_assistant.store.info.chunking.chunk_tokens
        assert chunk.text == seed_assistant.store.document(chunk.doc_id).text[chunk.start : chunk.end]


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Who said America is prepared to go on offence alone if necessary?", "Pete Hegseth"),
        ("How many fishermen have US bombings in the Caribbean killed?", "152"),
        ("Which company did Rodríguez sign an oil deal with?", "Shell"),
    ],
)
def test_cited_span_contains_the_answer(seed_assistant, question, expected):
    answer = seed_assistant.ask(question)
    assert not answer.abstained
    citation = answer.citations[0]
    assert expected in citation.quote
    assert seed_assistant.store.document(citation.doc_id).text[citation.start : citation.end] == citation.quote


def test_unrelated_question_abstains(seed_assistant):
    answer = seed_assistant.ask("What is the recipe for a chocolate soufflé?")
    assert answer.abstained and answer.hits


def test_cli_ask_json_on_the_default_seed_index(capsys):
    code = cli.main(["ask", "Who said America is prepared to go on offence alone if necessary?", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    citation = data["citations"][0]
    assert "Pete Hegseth" in citation["quote"]
    document = load_file(Path(citation["source"]))
    assert document.text[citation["start"] : citation["end"]] == citation["quote"]
    assert document.doc_id == citation["doc_id"]


TABLES = Path(__file__).parent / "data" / "tables"


@pytest.fixture(scope="module")
def tables_assistant(tmp_path_factory, real_embedder):
    instance = Assistant(Settings(index_dir=tmp_path_factory.mktemp("tables") / "idx"), embedder=real_embedder)
    instance.index_paths([TABLES])
    return instance


@pytest.mark.parametrize("question, row, answer", [
    ("How many staff work at the Canal Works office?", "Office: Canal Works", "76"),
    ("Which contractor services the gas boiler?", "Equipment: Gas boiler", "Thermserve Ltd"),
    ("What is the Legal department's budget for Q2?", "Department: Legal", "18500"),
])
def test_a_table_cell_is_found_at_its_row(tables_assistant, question, row, answer):
    # Whether to answer is the readers' decision (measured by make eval-tables); here: the row is the best sentence found.
    reply = tables_assistant.ask(question)
    lookup = tables_assistant.store.document
    best = tables_assistant.reader("extractive").ranked(question, reply.hits, lookup)[0]
    assert best.text.startswith(row) and answer in best.text and best.text.count(" · ") >= 2  # the row, with its headers
    document = lookup(best.candidate.doc_id)
    assert document.text[best.candidate.start : best.candidate.end] == best.text
    if document.name.endswith(".xlsx"):
        assert document.place_at(best.candidate.start) == "sheet Budget 2026"
