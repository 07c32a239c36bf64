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
    citation = answer.citations[0]
    document = assistant.index.document(citation.doc_id)
    assert document.text[citation.start : citation.end] == citation.quote == "Its lava lake was drained in 2018."
    # A 'when' question is answered with the date inside the cited sentence.
    assert answer.text == "2018"


def test_typed_spans_inside_the_sentence():
    from rag.readers.spans import best_typed_span, question_type

    sentence = "This was echoed by War Secretary Pete Hegseth, who warned the US: “America is ready.”"
    span = best_typed_span("Who said America is ready?", sentence)
    assert sentence[span.start : span.end] == "War Secretary Pete Hegseth"
    sentence = "He agreed to buy a thousand kilograms of gold in 2019."
    assert question_type("How much gold did he buy?") == "number"
    span = best_typed_span("How much gold did he buy?", sentence)
    assert sentence[span.start : span.end] == "a thousand kilograms"
    span = best_typed_span("In which year did he buy gold?", sentence)
    assert sentence[span.start : span.end] == "2019"
    assert best_typed_span("Why did he buy gold?", sentence) is None
    assert best_typed_span("How many bars did he buy?", "He bought gold.") is None


def test_abstains_below_the_threshold_and_keeps_the_closest_passages(assistant):
    strict = ExtractiveReader(assistant.embedder, ExtractiveSettings(threshold=2.0))
    hits = assistant.retriever().search("Which river reaches the North Sea?", 3)
    reading = strict.read("Which river reaches the North Sea?", hits, assistant.index.document)
    assert reading.abstained and reading.text == ABSTAIN_TEXT and reading.citations == ()


def test_abstains_on_an_unrelated_question(assistant):
    answer = assistant.ask("What is the boiling point of mercury?")
    assert answer.abstained
    assert answer.hits  # the closest passages still come back
