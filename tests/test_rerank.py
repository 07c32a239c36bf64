"""The second stage: the cross-encoder re-reads the first chunks and the readers' sentences."""

import numpy as np
import pytest

from rag.errors import ModelNotFoundError
from rag.rerank import CrossEncoder, resolve_reranker
from rag.retrieval import RetrievalSettings, Retriever


class Prefers:
    """Scores a passage by whether it holds a given word: the second stage's order is then known in advance."""

    def __init__(self, word: str):
        self.word = word
        self.calls = []

    def score(self, question, passages):
        self.calls.append(list(passages))
        return np.array([5.0 if self.word in p else -5.0 for p in passages], dtype=np.float32)


def test_the_second_stage_reorders_the_first_chunks(assistant):
    question = "Where does the Rhine rise?"
    first = Retriever(assistant.store, assistant.embedder, RetrievalSettings(rerank=False)).search(question, 4)
    assert "Rhine" in first[0].chunk.text
    second = Retriever(assistant.store, assistant.embedder, RetrievalSettings(rerank_depth=3), reranker=Prefers("Etna"))
    timings = {}
    hits = second.search(question, 2, timings)
    assert "Etna" in hits[0].chunk.text and "Etna" not in first[0].chunk.text and len(hits) == 2
    assert [h.rank for h in hits] == [0, 1]
    assert hits[0].scores_by_retriever["rerank"] == 5.0 and "fused" in hits[0].scores_by_retriever
    assert 0 < hits[0].score < 1 and timings["rerank_ms"] >= 0
    # The depth, not k: more chunks are re-read than returned (as many as there are, up to the depth).
    assert len(second.reranker.calls[0]) == min(3, assistant.store.chunk_count())


def test_rerank_off_never_calls_the_cross_encoder(assistant):
    scorer = Prefers("Etna")
    hits = Retriever(assistant.store, assistant.embedder, RetrievalSettings(rerank=False), reranker=scorer).search("Rhine", 3)
    assert hits and scorer.calls == []
    assistant.ask("Where does the Rhine rise?", rerank=False)
    assert assistant.reranker.scored == 0  # neither the retriever nor the reader used it


def test_a_cross_encoder_folder_that_is_not_one_says_so(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model.onnx and tokenizer.json"):
        resolve_reranker(str(tmp_path))


@pytest.mark.integration
def test_the_packaged_cross_encoder_prefers_the_sentence_that_answers():
    encoder = CrossEncoder()
    scores = encoder.score("Through which country was the money from the first oil sales routed?", [
        "The initial $500 million in oil sales were routed through Qatar.",
        "Chevron said it would expand production in the country.",
        "Bananas are a good source of potassium.",
    ])
    assert scores[0] > scores[1] > scores[2]
    assert encoder.score("anything", []).shape == (0,)


@pytest.mark.integration
def test_reranked_seed_answers_cite_the_span_that_holds_them(tmp_path_factory):
    from rag.assistant import Assistant, Settings
    from rag.paths import SEED_CORPUS

    assistant = Assistant(Settings(index_dir=tmp_path_factory.mktemp("rerank") / "idx"))
    assistant.index_paths([SEED_CORPUS])
    for question, expected in [
        ("Which oil major did Rodríguez sign a deal with?", "Shell"),
        ("Through which country was the money from the first oil sales routed?", "Qatar"),
        ("Who commands SOUTHCOM?", "Francis Donovan"),
    ]:
        answer = assistant.ask(question)
        assert "rerank_ms" in answer.timings
        assert answer.hits[0].scores_by_retriever.get("rerank") is not None
        citation = answer.citations[0]
        assert expected in citation.quote, (question, citation.quote)
        assert answer.document(citation.doc_id).text[citation.start : citation.end] == citation.quote
    # Short answers inside the cited sentence: a year for "in what year" (not the weekday of the best-ranked
    # sentence), the company's name rather than a possessive next to it.
    for question, expected in [
        ("In what year were diplomatic relations between Venezuela and the US severed?", "2019"),
        ("What is the name of Venezuela's state oil company?", "PDVSA"),
    ]:
        answer = assistant.ask(question)
        assert answer.text == expected, (question, answer.text)
        assert expected in answer.citations[0].quote
