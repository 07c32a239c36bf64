"""Dates and amounts read from copied phrases, and the direction a comparative question asks for."""

import pytest

from rag.quantities import amount, comparative, date_key


@pytest.mark.parametrize("text, key", [
    ("born 9 May 1951", (1951, 5, 9)),
    ("(born December 5, 1956)", (1956, 12, 5)),
    ("a 1946 American animated film", (1946, 0, 0)),
    ("Julius Caesar died in 44 BC", (-44, 0, 0)),
    ("12,500 seats", None),  # a number, not a year
    ("no date here", None),
])
def test_a_date_is_read_as_year_month_day(text, key):
    assert date_key(text) == key


def test_amounts_keep_their_scale():
    assert amount("3.4 million people") == 3_400_000
    assert amount("12,500 seats") == 12_500
    assert amount("a genus of 6 species") == 6
    assert amount("five members") is None


@pytest.mark.parametrize("question, measure", [
    ("Who is older, Ferdi Taygan or Mahesh Bhupathi?", (-1, True)),
    ("Which film was released more recently, A or B?", (1, True)),  # "recently" wins over "more"
    ("Which genus has more species, Apium or Elodea?", (1, False)),
    ("Which city is smaller, Lyon or Nice?", (-1, False)),
    ("Who wrote the song, Lennon or McCartney?", None),
])
def test_the_comparative_word_says_which_value_wins(question, measure):
    assert comparative(question) == measure
