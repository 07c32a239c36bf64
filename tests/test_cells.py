"""`rag.readers.cells`: a table cell answered by its header, never by a header, and declined when no header fits."""

import numpy as np
import pytest

from rag.readers.cells import CellSettings, answer_cell, cell_reading, named_in, value_type, wanted_type
from rag.readers.extractive import Candidate, ScoredSentence
from rag.tables import in_header, row_cells, rows_as_text

ROW = rows_as_text([["Office", "City", "Manager", "Opened", "Staff"],
                    ["Riverside", "Leeds", "Tomasz Wójcik", "2015", "57"]])[0]


def _row(text: str = ROW):
    return row_cells(text)


def test_a_row_is_read_back_into_its_cells_at_their_offsets():
    cells = _row()
    assert [(c.header, c.value) for c in cells] == [("Office", "Riverside"), ("City", "Leeds"),
                                                   ("Manager", "Tomasz Wójcik"), ("Opened", "2015"), ("Staff", "57")]
    assert all(ROW[c.start:c.end] == c.value for c in cells)


def test_prose_is_not_a_row():
    assert row_cells("The office opened in 2015 · and grew.") is None
    assert row_cells("Manager: Tomasz Wójcik") is None  # one cell: not a row


def test_value_types():
    assert [value_type(v) for v in ("2015", "12 May 2009", "March", "3-6 March", "48000", "1.7 M", "+44 28 9018",
                                    "CC-310", "Tomasz Wójcik")] == [
        "date", "date", "date", "date", "number", "number", "number", "text", "text"]


def test_the_type_a_question_wants():
    assert wanted_type("How many staff work there?") == "number"
    assert wanted_type("When did it open?") == "date"
    assert wanted_type("What year did it open?") == "date"
    assert wanted_type("Who manages it?") == "text"
    assert wanted_type("Which company services the pump?") == "text"  # an entity named by its noun
    assert wanted_type("In which month was it paid?") == "date"  # the answer type `rag.readers.spans` reads
    assert wanted_type("What was the purpose of the trip?") is None


def test_the_key_is_the_value_the_question_names_as_a_whole_phrase():
    assert named_in("Riverside", "Who manages the Riverside office?")
    assert named_in("Customer support", "What is the Q3 budget of customer support?")
    assert not named_in("Leeds", "Who manages the Leedsford office?")
    assert not named_in("Old Mill", "Who manages the mill?")


def test_the_cell_under_the_header_the_question_names_not_the_key():
    cell, fit = answer_cell("Who manages the Riverside office?", _row(), None)
    assert cell.value == "Tomasz Wójcik" and fit > 0
    cell, _ = answer_cell("When did the Riverside office open?", _row(), None)
    assert cell.value == "2015"
    cell, _ = answer_cell("Which office does Tomasz Wójcik manage?", _row(), None)
    assert cell.value == "Riverside"  # the manager is the key here, the office the answer


def test_the_type_decides_between_headers_that_share_a_word():
    row = rows_as_text([["Equipment", "Last service", "Contractor"], ["Gas boiler", "14 March 2026", "Thermserve"]])[0]
    cell, _ = answer_cell("Which company services the gas boiler?", row_cells(row), None,
                          CellSettings(min_similarity=-1.0))
    assert cell.value == "Thermserve"  # "services" names the date's header, but a company is not a date


def _embed_by_meaning(meanings: dict[str, list[float]]):
    def embed(texts):
        return np.array([meanings.get(t, [0.0, 0.0, 1.0]) for t in texts], dtype=np.float32)
    return embed


def test_a_header_in_other_words_is_found_by_meaning_and_none_is_declined():
    question = "How many people work in the Riverside office?"
    near = _embed_by_meaning({question: [1.0, 0.0, 0.0], "Staff": [0.9, 0.1, 0.0], "Opened": [0.0, 1.0, 0.0]})
    cell, _ = answer_cell(question, _row(), near)
    assert cell.value == "57"
    far = _embed_by_meaning({question: [1.0, 0.0, 0.0]})  # no header close to the question
    assert answer_cell(question, _row(), far) == (None, 0.0)


def test_a_header_is_never_a_span_of_the_answer():
    assert in_header(ROW, (ROW.index("Manager"), ROW.index("Manager") + 7))
    start = ROW.index("Tomasz")
    assert not in_header(ROW, (start, start + 6))
    assert not in_header("Plain prose, no table.", (0, 5))


class _Document:
    def __init__(self, text):
        self.doc_id, self.text, self.source = "d", text, "offices.csv"
        self.meta = {}

    def place_at(self, offset):
        return None


def _ranked(text, *sentences):
    ranked = []
    for rank, sentence in enumerate(sentences):
        start = text.index(sentence)
        ranked.append(ScoredSentence(Candidate("d", start, start + len(sentence), rank), sentence, 1.0 - rank, 1.0, 0.5))
    return ranked


@pytest.mark.parametrize("question, answer", [
    ("Who manages the Riverside office?", "Tomasz Wójcik"),
    ("How many staff work at the Riverside office?", "57"),
])
def test_a_cell_reading_cites_the_row_and_answers_with_the_cells_own_characters(question, answer):
    text = "Offices\n\n" + ROW
    document = _Document(text)
    reading = cell_reading(question, _ranked(text, ROW), lambda _: document, None)
    assert reading.text == answer and not reading.abstained
    assert text[reading.answer_span[0]:reading.answer_span[1]] == answer
    assert reading.citations[0].quote == ROW


def test_a_question_that_names_no_row_is_read_as_prose_and_one_whose_headers_fit_nothing_is_declined():
    text = "Offices\n\n" + ROW
    document = _Document(text)
    assert cell_reading("Who manages the Harbour office?", _ranked(text, ROW), lambda _: document, None) is None
    assert cell_reading("Who is Tomasz Wójcik?", _ranked(text, ROW), lambda _: document, None) is None
    near = _embed_by_meaning({"Where is Riverside?": [1.0, 0.0, 0.0], "City": [0.9, 0.1, 0.0]})
    where = cell_reading("Where is Riverside?", _ranked(text, ROW), lambda _: document, near)
    assert where.text == "Leeds"  # one cell asked for, though the question names nothing but the row's key
    declined = cell_reading("What is the parking fee at the Riverside office?", _ranked(text, ROW),
                            lambda _: document, None)
    assert declined.abstained and declined.signals["no_header_fits"] == 1.0
