import pytest

from rag.errors import RagError
from rag.retrieval import RetrievalSettings, Retriever, fuse


def test_minmax_fusion_hand_computed():
    dense = [(1, 0.9), (2, 0.5), (3, 0.1)]  # normalised: 1.0, 0.5, 0.0
    lexical = [(3, 10.0), (4, 6.0), (1, 2.0)]  # normalised: 1.0, 0.5, 0.0
    fused = dict(fuse(dense, lexical, fusion="minmax", dense_weight=0.5))
    assert fused == pytest.approx({1: 0.5, 2: 0.25, 3: 0.5, 4: 0.25})
    assert [row for row, _ in fuse(dense, lexical, fusion="minmax", dense_weight=0.5)] == [1, 3, 2, 4]


def test_rrf_fusion_hand_computed():
    fused = dict(fuse([(1, 0.9), (2, 0.5)], [(2, 3.0), (3, 1.0)], fusion="rrf", dense_weight=0.5))
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61)
    assert fused[3] == pytest.approx(1 / 62)


def test_four_signal_fusion_hand_computed():
    from rag.retrieval import fuse_signals

    chunks = {"dense": [(0, 0.9), (1, 0.5)], "bm25": [(1, 4.0), (2, 2.0)]}  # normalised: {0: 1, 1: 0}, {1: 1, 2: 0}
    docs = {"doc_bm25": [("A", 3.0), ("B", 1.0)]}  # normalised: A 1, B 0
    doc_of = ["A", "B", "A"]
    weights = {"dense": 0.4, "bm25": 0.2, "doc_bm25": 0.4}
    fused = dict(fuse_signals(chunks, weights, fusion="minmax", doc_lists=docs, doc_of=doc_of.__getitem__))
    assert fused == pytest.approx({0: 0.4 + 0.4, 1: 0.2, 2: 0.4})


def test_settings_name_the_bad_value():
    with pytest.raises(RagError, match="unknown retrieval mode 'sparse'.*dense, lexical, hybrid"):
        RetrievalSettings(mode="sparse")
    with pytest.raises(RagError, match="unknown fusion"):
        RetrievalSettings(fusion="sum")


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_mode_finds_the_passage(assistant, mode):
    retriever = Retriever(assistant.store, assistant.embedder, RetrievalSettings(mode=mode))
    hits = retriever.search("Which volcano erupted in 1669?", 3)
    assert "1669" in hits[0].chunk.text
    assert [h.rank for h in hits] == list(range(len(hits)))
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_lexical_search_with_no_known_words_returns_nothing(assistant):
    assert assistant.store.lexical(["zzzz qqqq"], 5)[0] == []
