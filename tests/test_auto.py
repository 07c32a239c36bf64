"""The auto reader's answer shapes, with a scripted model: what is shown is cited, and what is cited states it."""

import math
import re

from rag.llm import Completion, Token
from rag.readers import auto, verdicts
from rag.readers.auto import AutoReader
from rag.readers.llm import LLMReader
from rag.readers.signals import Calibration
from rag.readers.support import JUDGE_SYSTEM

TRUST_THE_MODEL = Calibration(("model_declined",), (-8.0,), 4.0, 0.5)


class ScriptedLLM:
    """Replies by the kind of request (its system prompt); verdict requests get `verdict` first."""

    def __init__(self, replies: dict, verdict: str = "Yes"):
        self.replies = replies
        self.verdict = verdict
        self.asked: list[str] = []
        self.questions: list[str] = []  # the last user message of each request
        self.requests: list[list[dict]] = []  # every request whole

    def complete(self, messages, **_):
        system = messages[0]["content"]
        self.requests.append(messages)
        self.asked.append(system)
        self.questions.append(messages[-1]["content"])
        if system in (JUDGE_SYSTEM, verdicts.VERDICT_SYSTEM) or system.startswith("You check answers"):
            word = self.replies.get(system, self.verdict)
            other = "No" if word == "Yes" else "Yes"
            return Completion(word, (Token(word, -0.05, ((word, -0.05), (other, -3.0))),))
        reply = self.replies.get(system, "NONE")
        return Completion(reply, (Token(reply.split()[0] if reply.split() else "", -0.1),))

    def stream(self, messages, **kwargs):
        reply = self.complete(messages, **kwargs).text
        for word in reply.split(" "):
            yield word + " "


def reader(assistant, llm, settings=auto.AutoSettings()) -> AutoReader:
    short = LLMReader(assistant.embedder, llm=llm, extractive=assistant.reader("extractive"), calibrated=TRUST_THE_MODEL)
    return assistant._bound(AutoReader(short, settings=settings), assistant.store, True)


def ask(assistant, llm, question, settings=auto.AutoSettings()):
    hits = assistant.retriever().search(question, 5)
    return reader(assistant, llm, settings).read(question, hits, assistant.store.document)


def assert_quotes_are_the_documents(assistant, reading):
    for citation in reading.citations:
        assert assistant.store.document(citation.doc_id).text[citation.start:citation.end] == citation.quote


def test_yes_no_comes_first_then_the_evidence_cited(assistant):
    reading = ask(assistant, ScriptedLLM({verdicts.VERDICT_SYSTEM: "No"}), "Did Kilauea's lava lake drain in 1669?")
    assert reading.kind == "yesno" and reading.short == "No"
    assert reading.text.startswith("No. ") and reading.text.endswith("[1]")
    assert "2018" in reading.citations[0].quote
    assert_quotes_are_the_documents(assistant, reading)


def test_a_yes_no_question_about_two_things_settles_each_on_its_own_evidence(assistant):
    llm = ScriptedLLM({})
    reading = ask(assistant, llm, "Are the Danube and the Rhine both rivers?")
    asked = [q for system, q in zip(llm.asked, llm.questions) if system == verdicts.VERDICT_SYSTEM]
    assert [q.splitlines()[-1] for q in asked] == ["Question: Is Danube rivers?", "Question: Is Rhine rivers?"]
    assert reading.short == "Yes" and len(reading.citations) == 2
    assert {"Danube", "Rhine"} <= {word for c in reading.citations for word in ("Danube", "Rhine") if word in c.quote}
    assert_quotes_are_the_documents(assistant, reading)


def test_a_verdict_about_one_thing_follows_the_invented_examples_and_a_verdict_per_thing_does_not(assistant):
    llm = ScriptedLLM({})
    ask(assistant, llm, "Did Kilauea's lava lake drain in 1669?")
    ask(assistant, llm, "Are the Danube and the Rhine both rivers?")
    asked = [m for m in llm.requests if m[0]["content"] == verdicts.VERDICT_SYSTEM]
    one = asked[0]  # then the same, read over the quoted sentence alone
    each = [m for m in asked if len(m) == 2]
    shown = [(one[n]["content"], one[n + 1]["content"]) for n in range(1, len(one) - 1, 2)]
    assert shown == [(verdicts._numbered(asked, [passage]), verdict) for passage, asked, verdict in verdicts.VERDICT_EXAMPLES]
    assert one[-1]["content"].endswith("Question: Did Kilauea's lava lake drain in 1669?")
    assert len(each) == 2 and all(len(request) == 2 for request in each)  # "Is Danube rivers?", "Is Rhine rivers?"


def test_every_listed_item_stands_in_the_sentence_it_cites_and_invented_ones_are_dropped(assistant):
    llm = ScriptedLLM({auto.LIST_SYSTEM: "North Sea [1]\nBlack Sea [1]\nBaltic Sea [2]\nNorth Sea [1]"})
    reading = ask(assistant, llm, "Which seas do the rivers reach?")
    assert reading.kind == "list"
    items = [re.sub(r"\s*\[\d+\]", "", part) for part in reading.text.split("; ")]
    assert sorted(items) == ["Black Sea", "North Sea"]  # de-duplicated; the Baltic is in no passage
    quotes = " ".join(c.quote for c in reading.citations)
    assert all(item in quotes for item in items)
    assert_quotes_are_the_documents(assistant, reading)


def test_a_list_reads_a_sentence_nearly_as_relevant_as_the_best_when_both_score_low(assistant, monkeypatch):
    import dataclasses

    question = "Which seas do the rivers reach?"
    llm = ScriptedLLM({auto.LIST_SYSTEM: "NONE"})
    listing = reader(assistant, llm)
    hits = assistant.retriever().search(question, 5)
    ranked = assistant.reader("extractive").ranked(question, hits, assistant.store.document)
    # The best sentence just passes the floor; the next is within the margin of it, the third is not.
    shifted = [dataclasses.replace(s, relevance=value) for s, value in zip(ranked[:3], (-1.0, -2.9, -3.5))]
    monkeypatch.setattr(listing.extractive, "ranked", lambda *_: shifted + ranked[3:])
    listing.read(question, hits, assistant.store.document)
    prompt = next(m for m in llm.requests if m[0]["content"] == auto.LIST_SYSTEM)[-1]["content"]
    assert shifted[0].text in prompt and shifted[1].text in prompt and shifted[2].text not in prompt


def test_an_explanation_keeps_only_the_sentences_its_citations_state(assistant):
    written = "Etna erupted violently in 1669 and destroyed Nicolosi [1]. The mayor rebuilt it with Roman gold [1]."
    reading = ask(assistant, ScriptedLLM({auto.EXPLAIN_SYSTEM: written}), "Why was the village of Nicolosi destroyed?")
    assert reading.kind == "reason"
    assert reading.text == "Etna erupted violently in 1669 and destroyed Nicolosi. [1]"
    assert "Nicolosi" in reading.citations[0].quote
    assert reading.signals["dropped_sentences"] == 1


def test_the_explanation_setting_checks_every_sentence_whatever_the_question(assistant):
    # No marker on the first sentence: it is checked against the passage that holds most of its words.
    written = "Kilauea's lava lake was drained in 2018. It was drained by the army on orders from Rome [9]."
    llm = ScriptedLLM({auto.EXPLAIN_SYSTEM: written})
    short = LLMReader(assistant.embedder, llm=llm, extractive=assistant.reader("extractive"), calibrated=TRUST_THE_MODEL)
    explaining = assistant._bound(AutoReader(short, explain_only=True), assistant.store, True)
    question = "When was the lava lake of Kilauea drained?"  # a fact: explained all the same in this setting
    reading = explaining.read(question, assistant.retriever().search(question, 5), assistant.store.document)
    assert explaining.name == "llm-explain" and reading.kind == "reason"
    assert reading.text == "Kilauea's lava lake was drained in 2018. [1]"  # the army sentence states nothing cited
    assert reading.signals["dropped_sentences"] == 1 and "2018" in reading.citations[0].quote
    assert_quotes_are_the_documents(assistant, reading)


def test_the_explanation_setting_is_the_checked_explanation(assistant):
    assert isinstance(assistant.reader("llm-explain"), AutoReader) and assistant.reader("llm-explain").explain_only
    assert isinstance(assistant.with_settings(explain=True).reader("llm"), AutoReader)
    assert type(assistant.reader("llm")) is LLMReader


def test_a_reply_of_markers_only_is_never_shown(assistant):
    reading = ask(assistant, ScriptedLLM({auto.EXPLAIN_SYSTEM: "[1], [2]"}), "Why was the village of Nicolosi destroyed?")
    assert not re.fullmatch(r"[\s\[\]\d,.]*", reading.text)
    if not reading.abstained:  # the best sentence itself, quoted, is what is shown instead
        assert reading.citations and reading.citations[0].quote in reading.text


def test_an_overview_reads_the_document_itself(assistant):
    llm = ScriptedLLM({})
    reading = ask(assistant, llm, "What is this document about?")
    assert reading.kind == "overview" and not reading.abstained and llm.asked == []
    assert len(reading.citations) >= 2
    assert all(c.doc_id == reading.citations[0].doc_id for c in reading.citations)
    assert_quotes_are_the_documents(assistant, reading)


def test_an_overview_of_everything_gives_a_line_for_each_document(assistant):
    reading = ask(assistant, ScriptedLLM({}), "What are these documents about?")
    lines = reading.text.splitlines()
    assert len(lines) == 2 and len({c.doc_id for c in reading.citations}) == 2


def test_a_comparison_picks_one_of_the_named_things_with_evidence_for_both(assistant):
    llm = ScriptedLLM({verdicts.CHOICE_SYSTEM: "the Danube"})
    reading = ask(assistant, llm, "Which flows through more countries, the Danube or the Rhine?")
    assert reading.kind == "comparison" and reading.short == "Danube"
    assert reading.text.startswith("Danube. ")
    assert_quotes_are_the_documents(assistant, reading)


def test_a_comparison_of_values_is_decided_by_the_values_copied_for_each(assistant):
    """The model only copies each river's length; which is longer is decided in code (the model's own pick, were
    it asked, is the Rhine)."""
    from rag.evaluation.datasets import make_document

    assistant.add_documents([make_document("lengths.txt", "Lengths",
                                           "The Danube is 2,850 km long.\nThe Rhine is 1,230 km long.")])

    class Copying(ScriptedLLM):
        def complete(self, messages, **kwargs):
            asked = messages[-1]["content"]
            if "Copy the date or number given for" in asked:
                reply = "2,850 km" if asked.rstrip(".").endswith("Danube") else "1,230 km"
                return Completion(reply, (Token(reply, -0.1),))
            return super().complete(messages, **kwargs)

    reading = ask(assistant, Copying({verdicts.CHOICE_SYSTEM: "the Rhine"}), "Which river is longer, the Danube or the Rhine?")
    assert reading.kind == "comparison"
    assert reading.short == "Danube" and reading.signals.get("compared_values") == 1.0
    assert any("2,850" in c.quote for c in reading.citations) and any("1,230" in c.quote for c in reading.citations)
    assert_quotes_are_the_documents(assistant, reading)


def test_a_two_step_question_is_asked_as_its_inner_question_then_its_outer_one(assistant):
    from rag.evaluation.datasets import make_document
    from rag.readers.llm import SHORT_SYSTEM

    assistant.add_documents([make_document("books.txt", "Books", "Night Trains is a book written by Ana Costa in 1990.\n"
                                           "Ana Costa was born in Porto and studied in Lisbon.")])

    class Splitting(ScriptedLLM):
        def complete(self, messages, **kwargs):
            system, asked = messages[0]["content"], messages[-1]["content"]
            if system == auto.SPLIT_SYSTEM:
                reply = "1) Who wrote the book Night Trains?\n2) Where was #1 born?"
            elif system == SHORT_SYSTEM:
                reply = "Ana Costa" if "Night Trains" in asked.splitlines()[-1] else "Porto"
            else:
                return super().complete(messages, **kwargs)
            self.asked.append(system)
            self.questions.append(asked)
            return Completion(reply, (Token(reply.split()[0], -0.1),))

    llm = Splitting({})
    reading = ask(assistant, llm, "Where was the author of the book Night Trains born?")
    assert reading.kind == "two-step" and reading.short == "Porto" and reading.signals.get("decomposed") == 1.0
    assert any(q.endswith("Question: Where was Ana Costa born?") for q in llm.questions)  # the name put in its place
    quotes = [c.quote for c in reading.citations]
    assert any("born in Porto" in q for q in quotes) and any("written by Ana Costa" in q for q in quotes)  # both hops
    assert_quotes_are_the_documents(assistant, reading)


def test_a_two_step_answer_cites_the_span_it_copied(assistant):
    llm = ScriptedLLM({auto.MULTI_SYSTEM: "Sicily"})
    reading = ask(assistant, llm, "On which island is the volcano that destroyed the village of Nicolosi?")
    assert reading.kind == "two-step" and reading.short == "Sicily"
    assert any("Sicily" in c.quote for c in reading.citations)
    assert_quotes_are_the_documents(assistant, reading)


def test_a_second_reading_that_only_repeats_the_question_s_words_is_declined(assistant):
    # The model declines the fact; reading the passages again, it copies a name the question itself gives.
    reading = ask(assistant, ScriptedLLM({auto.MULTI_SYSTEM: "the Danube"}), "What sea does the Danube empty into?")
    assert reading.abstained and not reading.citations
    reading = ask(assistant, ScriptedLLM({auto.MULTI_SYSTEM: "the Black Sea"}), "What sea does the Danube empty into?")
    assert not reading.abstained and reading.short == "the Black Sea"


class Unsure(ScriptedLLM):
    """Checks of an answer get P(Yes) = `probability`."""

    def __init__(self, replies, probability):
        super().__init__(replies)
        self.probability = probability

    def complete(self, messages, **kwargs):
        if messages[0]["content"].startswith("You check answers"):
            yes, no = math.log(self.probability), math.log(1 - self.probability)
            return Completion("Yes", (Token("Yes", yes, (("Yes", yes), ("No", no))),))
        return super().complete(messages, **kwargs)


def test_a_declined_fact_needs_a_surer_check_from_its_second_reading_than_a_two_step_answer(assistant):
    fact = "What sea does the Danube empty into?"
    two_step = "On which island is the volcano that destroyed the village of Nicolosi?"
    unsure = auto.AutoSettings(hop_min_support=0.5, fallback_min_support=0.7)
    assert ask(assistant, Unsure({auto.MULTI_SYSTEM: "the Black Sea"}, 0.6), fact, unsure).abstained
    assert not ask(assistant, Unsure({auto.MULTI_SYSTEM: "the Black Sea"}, 0.8), fact, unsure).abstained
    answered = ask(assistant, Unsure({auto.MULTI_SYSTEM: "Sicily"}, 0.6), two_step, unsure)
    assert answered.kind == "two-step" and answered.short == "Sicily"


def test_what_two_named_things_share_is_read_from_each_one_s_sentence_and_must_hold_for_both(assistant):
    question = "What kind of mountain are Mount Etna and Kilauea both?"
    shared = ask(assistant, ScriptedLLM({auto.SHARED_SYSTEM: "volcano"}), question)
    assert shared.kind == "fact" and shared.text == "volcano" and shared.signals["shared"] == 1.0
    quotes = [c.quote for c in shared.citations]
    assert len(quotes) == 2 and any("Etna" in q for q in quotes) and any("Kilauea" in q for q in quotes)
    assert all("volcano" in q for q in quotes)
    assert_quotes_are_the_documents(assistant, shared)
    # True of one of them only: not shown as shared; the question goes on to the one-fact reading (here: NONE).
    one_only = ask(assistant, ScriptedLLM({auto.SHARED_SYSTEM: "Sicily"}), question)
    assert one_only.abstained or "shared" not in one_only.signals
    doubted = ask(assistant, ScriptedLLM({auto.SHARED_SYSTEM: "volcano"}, verdict="No"), question)
    assert doubted.abstained or "shared" not in doubted.signals


class VerdictBySentences(ScriptedLLM):
    """Verdicts by what the request shows: `together` over several passages; read alone, Yes only for a passage that
    holds `states`."""

    def __init__(self, together: str, states: str | None):
        super().__init__({})
        self.together, self.states = together, states

    def complete(self, messages, **kwargs):
        if messages[0]["content"] == verdicts.VERDICT_SYSTEM:
            asked = messages[-1]["content"]
            passages = re.findall(r"^\[\d+\] (.*)$", asked, re.M)
            self.verdict = self.together if len(passages) > 1 else (
                "Yes" if self.states is not None and self.states in passages[0] else "No")
        return super().complete(messages, **kwargs)


def test_a_verdict_is_quoted_only_with_a_sentence_that_gives_it_alone_and_declined_otherwise(assistant):
    question = "Did Kilauea's lava lake drain in 2018?"
    contradicted = ask(assistant, VerdictBySentences("Yes", states=None), question)
    assert contradicted.abstained and contradicted.signals["no_agreeing_quote"] == 1.0
    agreed = ask(assistant, VerdictBySentences("Yes", states="2018"), question)
    assert agreed.short == "Yes" and "2018" in agreed.citations[0].quote and agreed.signals["quote_p_yes"] > 0.5
