"""The auto reader end to end with the real packaged models on the seed article: one question of each kind, the
answer's shape, and every citation the document's own characters."""

import re

import pytest

from rag.assistant import Assistant, Settings
from rag.paths import SEED_CORPUS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def auto(tmp_path_factory):
    instance = Assistant(Settings(index_dir=tmp_path_factory.mktemp("auto") / "idx", reader="auto"))
    instance.index_paths([SEED_CORPUS])
    return instance


def cited_exactly(answer):
    assert answer.citations
    for citation in answer.citations:
        assert answer.document(citation.doc_id).text[citation.start:citation.end] == citation.quote
    return True


def test_yes_no_says_yes_first_and_cites_the_evidence(auto):
    answer = auto.ask("Did the US restore diplomatic ties with Venezuela?")
    assert answer.kind == "yesno" and answer.short == "Yes" and answer.text.startswith("Yes. ")
    assert "diplomatic ties" in answer.citations[0].quote and cited_exactly(answer)


def test_a_passage_that_says_no_in_other_words_gets_no_and_a_plain_one_yes(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "clinic.txt").write_text("Clinic hours\n\nThe clinic has never required appointments for vaccinations. "
                                       "Vaccinations are given on weekday mornings from eight.\n", encoding="utf-8")
    assistant = Assistant(Settings(index_dir=tmp_path / "idx", reader="auto"))
    assistant.index_paths([folder])
    never = assistant.ask("Does the clinic require appointments for vaccinations?")
    assert never.kind == "yesno" and never.short == "No" and "never required" in never.citations[0].quote
    plain = assistant.ask("Are vaccinations given on weekday mornings?")
    assert plain.short == "Yes" and "weekday mornings" in plain.citations[0].quote
    assert cited_exactly(never) and cited_exactly(plain)


def test_a_list_names_every_item_of_the_sentence(auto):
    answer = auto.ask("What minerals are found in Venezuela?")
    assert answer.kind == "list" and cited_exactly(answer)
    for item in ("rare earths", "niobium", "platinum"):
        assert item in answer.text


def test_a_list_of_conditions_copies_each_condition_whole(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "grant.txt").write_text("Grant terms\n\nThe grant is subject to three conditions: the project must not "
                                      "exceed 18 months in duration, it must be carried out at least 50 kilometres from "
                                      "the capital, and it may not be used for commercial purposes.\n", encoding="utf-8")
    assistant = Assistant(Settings(index_dir=tmp_path / "idx", reader="auto"))
    assistant.index_paths([folder])
    answer = assistant.ask("What are the conditions of the grant?")
    assert answer.kind == "list" and cited_exactly(answer)
    items = [re.sub(r"\s*\[\d+\]$", "", item) for item in answer.text.split("; ")]
    # the conditions themselves, not the words that label them ("duration", "location", "use")
    assert len(items) == 3 and all(len(item.split()) >= 4 for item in items)
    for word in ("18 months", "50 kilometres", "commercial"):
        assert any(word in item for item in items)


def test_an_explanation_is_never_markers_alone_and_each_sentence_is_cited(auto):
    answer = auto.ask("Why did the regime cut social programs?")
    assert answer.kind == "reason" and not answer.abstained and cited_exactly(answer)
    assert len(re.sub(r"\[\d+\]", "", answer.text).split()) >= 5
    for sentence in re.split(r"(?<=\])\s+", answer.text.strip()):
        assert re.search(r"\[\d+\]$", sentence)


def test_a_description_and_its_follow_up(auto):
    first = auto.ask("Who is Delcy Rodríguez?")
    assert first.kind == "description" and cited_exactly(first)
    assert "president" in first.text and "Delcy Rodríguez" in first.citations[0].quote
    follow_up = auto.ask("What did she sign?", history=["Who is Delcy Rodríguez?"])
    assert follow_up.question == "What did Delcy Rodríguez sign?"  # read with the name "she" refers to
    assert not follow_up.abstained and cited_exactly(follow_up)
    assert "Rodríguez" in " ".join(c.quote for c in follow_up.citations)


def test_an_overview_reads_the_article_itself(auto):
    answer = auto.ask("What is this article about?")
    assert answer.kind == "overview" and len(answer.citations) >= 2 and cited_exactly(answer)


def test_a_comparison_chooses_one_of_the_two_named(auto):
    answer = auto.ask("Which company signed a deal with Rodríguez, Shell or Exxon Mobil?")
    assert answer.kind == "comparison" and answer.short == "Shell" and cited_exactly(answer)


def test_an_unanswerable_question_is_still_declined(auto):
    answer = auto.ask("What is the population of Caracas?")
    assert answer.abstained and not answer.citations


def test_the_judge_tells_the_answer_from_an_answer_to_a_neighbouring_question(auto):
    # On-topic sentences that answer a neighbouring question (a stage for the race, a former holder, a sequel) are
    # the usual wrong answer; the judge gives them a lower P(Yes) than the sentence that states the answer.
    judge = auto.reader("auto").judge
    cases = [
        ("Who won the 2027 Lakeside Regatta?", "Dana Holt",
         "Dana Holt won the 2027 Lakeside Regatta by two lengths.",
         "Dana Holt won the fourth race of the 2027 Lakeside Regatta."),
        ("Who is the director of the Orwin Museum?", "Peter Vance",
         "Peter Vance has directed the Orwin Museum since 2019.",
         "Peter Vance, a former director of the Orwin Museum, opened the new wing."),
    ]
    for question, answer, states, neighbour in cases:
        assert judge.answers(question, answer, [states]) > 0.5
        assert judge.answers(question, answer, [neighbour]) < judge.answers(question, answer, [states])


def test_an_answer_the_judge_doubts_sends_the_reader_to_the_next_sentence(auto, monkeypatch):
    # The best-ranked sentence names a heat's winner; the next states the regatta's. The model copies the heat's winner
    # from the first, the judge doubts it, and the reader keeps the answer it reads in the second.
    from rag.readers.extractive import Candidate, ScoredSentence
    from rag.types import Document

    neighbour = "Dana Holt won the fourth race of the 2027 Lakeside Regatta in strong wind."
    states = "The 2027 Lakeside Regatta was won overall by Marco Ruiz, two points ahead."
    text = f"{neighbour} {states}"
    document = Document("regatta", "regatta.txt", "Regatta", text)
    ranked = [ScoredSentence(Candidate("regatta", 0, len(neighbour), 0), neighbour, 9.0, 9.0, 0.8),
              ScoredSentence(Candidate("regatta", len(neighbour) + 1, len(text), 0), states, 8.5, 8.5, 0.7)]
    reader = auto.reader("llm", abstain=False)  # which answer is read, not whether to show it
    monkeypatch.setattr(reader.extractive, "ranked", lambda *_: ranked)
    reading = reader.read("Who won the 2027 Lakeside Regatta?", [], lambda _: document)
    assert reading.text == "Marco Ruiz" and reading.signals["sentence_rank"] == 1.0
    assert reading.citations[0].quote == states
