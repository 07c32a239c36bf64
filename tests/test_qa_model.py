"""The qa-model reader's plumbing, with a tiny randomly initialised model built here (proves the code path only)."""

import pytest

from rag.errors import ModelNotFoundError
from rag.readers.qa_model import QAModelReader


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-qa")
    words = "the a lava lake of kilauea was drained in 2018 when mount etna erupted 1669 volcano river".split()
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, ".", "?", ","]))
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=128)
    BertForQuestionAnswering(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def test_answers_with_a_span_of_the_source(assistant, tiny_model):
    reader = QAModelReader(tiny_model, threshold=0.0, allow_no_answer=False)
    hits = assistant.retriever().search("When was the lava lake of Kilauea drained?", 3)
    reading = reader.read("When was the lava lake of Kilauea drained?", hits, assistant.store.document)
    assert not reading.abstained and reading.text
    citation = reading.citations[0]
    document = assistant.store.document(citation.doc_id)
    assert citation.quote == document.text[citation.start : citation.end]
    assert reading.text in citation.quote  # the answer is the source's own characters, inside the citation


def test_the_threshold_decides_between_answering_and_declining(assistant, tiny_model):
    # Just above the best span's probability the reader declines; just below it, it answers that span. (A threshold
    # over 1 would decline whatever the code did.)
    question = "When was the lava lake of Kilauea drained?"
    hits = assistant.retriever().search(question, 3)
    lookup = assistant.store.document
    best = QAModelReader(tiny_model, threshold=0.0, allow_no_answer=False).read(question, hits, lookup)
    assert 0.0 < best.confidence < 1.0
    above = QAModelReader(tiny_model, threshold=best.confidence * 1.01, allow_no_answer=False).read(question, hits, lookup)
    below = QAModelReader(tiny_model, threshold=best.confidence * 0.99, allow_no_answer=False).read(question, hits, lookup)
    assert above.abstained and not below.abstained and below.text == best.text


def test_missing_model_folder_is_a_clear_error(assistant, tmp_path):
    hits = assistant.retriever().search("lava", 1)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        QAModelReader(tmp_path / "nope").read("lava?", hits, assistant.store.document)
