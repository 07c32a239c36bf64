"""BM25 computed by Milvus (rag.stores.milvus_lexical), against a fake of the store's search call: rows Milvus
returns that this reader must not show are skipped, a document counts once with its best part, and a query
without a word is never sent."""

from __future__ import annotations

from rag.stores.milvus_lexical import MilvusLexical


class FakeStore:
    names = {"chunks": "rag_chunks", "texts": "rag_texts"}

    def __init__(self, hits):
        self.hits, self.sent = hits, []
        self.visible = {"d1": 5, "d2": 7}  # doc_id -> the generation this reader sees

    def call(self, method, collection, *, data, anns_field, limit, filter, output_fields, search_params,
             consistency_level):
        assert method == "search" and anns_field == "lexical" and search_params == {"metric_type": "BM25"}
        self.sent.append((collection, list(data), limit, filter))
        return [self.hits for _ in data]

    def is_current(self, doc_id, gen):
        return self.visible.get(doc_id) == gen

    def generation_of(self, doc_id):
        return self.visible.get(doc_id)


def hit(distance, **entity):
    return {"distance": distance, "entity": entity}


def test_chunks_of_other_generations_are_skipped_and_k_kept():
    store = FakeStore([hit(9.0, chunk_id="d1:0", doc_id="d1", gen=4),  # superseded, not yet deleted
                       hit(8.0, chunk_id="d1:0", doc_id="d1", gen=5),
                       hit(7.5, chunk_id="d3:0", doc_id="d3", gen=9),  # committed after this reader looked
                       hit(7.0, chunk_id="d2:1", doc_id="d2", gen=7),
                       hit(6.0, chunk_id="d2:2", doc_id="d2", gen=7)])
    found = MilvusLexical(store).chunks(["lava lake"], 2, "gen in [5, 7]")
    assert found == [[("d1:0", 8.0), ("d2:1", 7.0)]]
    assert store.sent == [("rag_chunks", ["lava lake"], 2 + 16, "gen in [5, 7]")]


def test_a_document_scores_as_its_best_part_and_only_visible_documents_count():
    store = FakeStore([hit(5.0, doc_id="d2"), hit(4.0, doc_id="gone"), hit(3.0, doc_id="d2"), hit(2.0, doc_id="d1")])
    assert MilvusLexical(store).documents(["rivers"], 5, "") == [[("d2", 5.0), ("d1", 2.0)]]


def test_a_query_without_a_word_is_not_sent_and_finds_nothing():
    store = FakeStore([hit(1.0, chunk_id="d1:0", doc_id="d1", gen=5)])
    found = MilvusLexical(store).chunks(["?!", "Etna", ""], 3, "gen in [5]")
    assert found == [[], [("d1:0", 1.0)], []]
    assert [sent[1] for sent in store.sent] == [["Etna"]]
