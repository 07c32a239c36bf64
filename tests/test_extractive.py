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


def test_a_window_never_starts_or_ends_inside_a_word():
    text = "Short one. Other arguments include the lack of accounts of rats between the 14th and 17th centuries. Next one."
    cut = text.index("ween")
    assert [text[s:e] for s, e in sentence_spans(text, cut, len(text) - 3)] == ["the 14th and 17th centuries.", "Next"]
    assert [text[s:e] for s, e in sentence_spans(text, text.index("Other"), text.index("centuries"))] == [
        "Other arguments include the lack of accounts of rats between the 14th and 17th"]  # cut at a word edge: kept


def test_a_sentence_begun_long_before_its_chunk_is_a_candidate_whole(fake_embedder):
    from rag.evaluation.datasets import make_document
    from rag.types import Chunk, Hit

    long = ("Other arguments include " + "the lack of accounts of the death of rats before outbreaks, " * 8
            + "and temperatures too cold for fleas.")
    document = make_document("plague.txt", "plague", "The plague spread fast. " + long + " It ended in 1350.")
    start = document.text.index("outbreaks", 450)  # the chunk starts about 460 characters into the long sentence
    hit = Hit(Chunk("c", document.doc_id, start, len(document.text), document.text[start:]), 1.0, 1)
    texts = [document.text[c.start : c.end] for c in ExtractiveReader(fake_embedder).candidates([hit], lambda _: document)]
    assert texts == [long, "It ended in 1350."]


def test_answers_with_the_best_sentence_at_exact_offsets(assistant):
    answer = assistant.ask("When was the lava lake of Kilauea drained?")
    assert not answer.abstained
    citation = answer.citations[0]
    document = assistant.store.document(citation.doc_id)
    assert document.text[citation.start : citation.end] == citation.quote == "Its lava lake was drained in 2018."
    # A 'when' question is answered with the date inside the cited sentence.
    assert answer.text == "2018"


def test_in_the_documents_is_not_searched_for(assistant):
    plain = assistant.ask("When was the lava lake of Kilauea drained?")
    answer = assistant.ask("When was the lava lake of Kilauea drained in these documents?")
    assert answer.question == "When was the lava lake of Kilauea drained?"
    assert answer.text == plain.text == "2018" and answer.citations == plain.citations
    assert assistant.ask("Who wrote this document?").question == "Who wrote this document?"  # about the document


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
    # A possessive is not a second word of a name, and the name is shown without it.
    sentence = "A day before Burgum’s arrival, the state oil company PDVSA signed new contracts."
    span = best_typed_span("What is the name of the state oil company?", sentence)
    assert sentence[span.start : span.end] == "PDVSA"
    span = best_typed_span("Who arrived a day later?", sentence)
    assert sentence[span.start : span.end] == "Burgum"
    assert best_typed_span("How many bars did he buy?", "He bought gold.") is None


def test_abstains_below_the_threshold_and_keeps_the_closest_passages(assistant):
    strict = ExtractiveReader(assistant.embedder, ExtractiveSettings(threshold=2.0))
    hits = assistant.retriever().search("Which river reaches the North Sea?", 3)
    reading = strict.read("Which river reaches the North Sea?", hits, assistant.store.document)
    assert reading.abstained and reading.text == ABSTAIN_TEXT and reading.citations == ()


def test_abstains_on_an_unrelated_question(assistant):
    answer = assistant.ask("What is the boiling point of mercury?")
    assert answer.abstained
    assert answer.hits  # the closest passages still come back


def test_a_year_question_wants_a_year_not_a_weekday():
    from rag.readers.spans import best_typed_span, question_type

    assert question_type("In what year were relations severed?") == "year"
    assert question_type("When were relations severed?") == "date"
    assert question_type("What is the release date of the new console?") == "date"  # asked without "when"
    assert question_type("What's the date of the draft?") == "date"
    assert question_type("What was the first day of school like?") is None
    sentence = "The console will be released in Europe on 4 March 2034, its maker said."
    span = best_typed_span("What is the release date of the console?", sentence)
    assert sentence[span.start : span.end] == "4 March 2034"
    assert best_typed_span("In what year were relations severed?", "The ministry announced Thursday a new start.") is None
    sentence = "Relations were severed in 2019 and restored on Thursday."
    span = best_typed_span("In what year were relations severed?", sentence)
    assert sentence[span.start : span.end] == "2019"


class _Scripted:
    """A cross-encoder stand-in that scores sentences from a table (unknown sentences: -10)."""

    def __init__(self, scores):
        self.scores = scores

    def score(self, question, texts):
        import numpy as np

        return np.array([self.scores.get(t, -10.0) for t in texts])


def _reader(scores, fake_embedder):
    return ExtractiveReader(fake_embedder, reranker=_Scripted(scores), abstain=False)


def test_a_typed_question_reads_the_close_sentence_that_holds_its_kind(tmp_path, fake_embedder):
    from rag.loaders import load_file
    from rag.types import Chunk, Hit

    path = tmp_path / "relations.txt"
    path.write_text("The ministry announced Thursday the return of its ambassador. "
                    "Relations were severed in 2019 after a dispute. "
                    "Trade between them has doubled.", encoding="utf-8")
    doc = load_file(path)
    hits = [Hit(Chunk("c0", doc.doc_id, 0, len(doc.text), doc.text), 1.0, 0, {})]
    lookup = {doc.doc_id: doc}.__getitem__
    question = "In what year were relations severed?"
    close = {"The ministry announced Thursday the return of its ambassador.": 5.0,
             "Relations were severed in 2019 after a dispute.": 2.0}
    reading = _reader(close, fake_embedder).read(question, hits, lookup)
    assert reading.text == "2019" and reading.citations[0].quote == "Relations were severed in 2019 after a dispute."
    # Too far below the best sentence: the best one stands, and the question's kind is missing from it.
    far = {**close, "Relations were severed in 2019 after a dispute.": -3.0}
    reading = _reader(far, fake_embedder).read(question, hits, lookup)
    assert "ambassador" in reading.citations[0].quote and reading.signals["typed_missing"] == 1.0
    # A question that names no kind of answer keeps the cross-encoder's order.
    reading = _reader(close, fake_embedder).read("Why were relations severed?", hits, lookup)
    assert "ambassador" in reading.citations[0].quote


def test_only_a_year_question_moves_to_a_sentence_of_its_kind(tmp_path, fake_embedder):
    from rag.loaders import load_file
    from rag.types import Chunk, Hit

    path = tmp_path / "plague.txt"
    path.write_text("The plague reduced the population of the city by half. It killed 17 monks in one week.",
                    encoding="utf-8")
    doc = load_file(path)
    hits = [Hit(Chunk("c0", doc.doc_id, 0, len(doc.text), doc.text), 1.0, 0, {})]
    scores = {"The plague reduced the population of the city by half.": 5.0, "It killed 17 monks in one week.": 3.0}
    reading = _reader(scores, fake_embedder).read("How many residents died of the plague?", hits, {doc.doc_id: doc}.__getitem__)
    assert reading.citations[0].quote == "The plague reduced the population of the city by half."


def test_a_month_and_year_is_one_date_not_a_month_and_day():
    """"June 2021" once came out as "June 20": a day is one or two digits standing alone."""
    from rag.readers.spans import best_typed_span

    for sentence, expected in [("It opened in June 2021 after delays.", "June 2021"),
                               ("It opened on June 5, 2021.", "June 5, 2021"),
                               ("It opened on June 5th.", "June 5th"),
                               ("Founded 12 May 1998, it grew.", "12 May 1998")]:
        span = best_typed_span("When did it open?", sentence)
        assert sentence[span.start : span.end] == expected
