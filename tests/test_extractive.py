from rag.readers import ABSTAIN_TEXT
from rag.readers.extractive import ExtractiveReader, ExtractiveSettings
from rag.text import sentence_spans


def test_sentence_spans_keep_abbreviations_and_offsets():
    text = "Gen. Francis Donovan met U.S. officials. Then he left!  \nA new line starts here"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "Gen. Francis Donovan met U.S. officials.",
        "Then he left!",
        "A new line starts here",
    ]


def test_answers_with_the_best_sentence_at_exact_offsets(assistant):
    answer = assistant.ask("When was the lava lake of Kilauea drained?")
    assert not answer.abstained
    assert answer.text == "Its lava lake was drained in 2018."
    citation = answer.citations[0]
    document = assistant.index.document(citation.doc_id)
    assert document.text[citation.start : citation.end] == citation.quote == answer.text


def test_abstains_below_the_threshold_and_keeps_the_closest_passages(assistant):
    strict = ExtractiveReader(assistant.embedder, ExtractiveSettings(threshold=2.0))
    hits = assistant.retriever().search("Which river reaches the North Sea?", 3)
    reading = strict.read("Which river reaches the North Sea?", hits, assistant.index.document)
    assert reading.abstained and reading.text == ABSTAIN_TEXT and reading.citations == ()


def test_abstains_on_an_unrelated_question(assistant):
    answer = assistant.ask("What is the boiling point of mercury?")
    assert answer.abstained
    assert answer.hits  # the closest passages still come back
