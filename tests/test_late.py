"""Late interaction: the weakest-matched word of a question tells a passage about another year or event."""

import pytest

from rag.late import _content_tokens, shared_matcher

QUESTION = "Which country won the most medals at the 2018 Winter Olympics?"


def test_the_word_naming_the_answer_type_and_stop_words_are_not_matched():
    offsets = [(0, 0), (0, 5), (6, 13), (14, 17), (18, 21), (22, 26), (27, 33), (34, 36), (37, 40), (41, 45), (46, 52),
               (53, 62), (62, 63), (0, 0)]
    special = [1] + [0] * 12 + [1]
    kept = {QUESTION[start:] .split()[0] for _, start in _content_tokens(QUESTION, offsets, special)}
    assert kept == {"won", "most", "medals", "2018", "Winter", "Olympics?"}  # not "Which", "country", "the", "at"


@pytest.mark.integration
def test_another_year_is_the_weakest_match():
    matcher = shared_matcher()
    right, right_mean = matcher.match(QUESTION, "Norway won the most medals at the 2018 Winter Olympics in Pyeongchang.")
    other, _ = matcher.match(QUESTION, "Norway won the most medals at the 2022 Winter Olympics in Beijing.")
    topic, topic_mean = matcher.match(QUESTION, "The 2018 Winter Olympics were held in Pyeongchang.")
    assert right > 0.9 and other < right - 0.2  # everything matches but the year
    assert topic < right and topic_mean < right_mean  # on topic, says nothing of who won
