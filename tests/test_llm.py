import time

import pytest

from rag.llm import Completion, LocalLLM, Token
from rag.readers.llm import LLMReader, LLMSettings, align, none_probability
from rag.readers.signals import Calibration
from rag.readers.support import JUDGE_SYSTEM, VERIFY_SYSTEM, yes_probability

QUESTION = "When was the lava lake of Kilauea drained?"
EXPLAINED = "How did Chavez pay for social assistance programs?"  # the seed article spends a paragraph on it
# Declines when the model said NONE or copied nothing it could be held to; answers otherwise.
TRUST_THE_MODEL = Calibration(("model_declined",), (-8.0,), 4.0, 0.5)


class FakeLLM:
    """Replies with canned text (one reply per request); records prompts. Checks of an answer ("does the passage
    state it?") get `verdict` (or the next of a list of verdicts) and are recorded apart."""

    def __init__(self, *replies, verdict="Yes"):
        self.replies = list(replies)
        self.prompts = []
        self.checks = []
        self.verdict = verdict

    def complete(self, messages, **_):
        if messages[0]["content"] in (VERIFY_SYSTEM, JUDGE_SYSTEM):
            self.checks.append(messages[-1]["content"])
            verdict = self.verdict if isinstance(self.verdict, str) else self.verdict[len(self.checks) - 1]
            other = "No" if verdict == "Yes" else "Yes"
            return Completion(verdict, (Token(verdict, -0.1, ((verdict, -0.1), (other, -2.4))),))
        self.prompts.append(messages[-1]["content"])
        reply = self.replies.pop(0)
        first = reply.split()[0] if reply.split() else ""
        top = (("NONE", -0.05), ("1", -3.0)) if reply == "NONE" else ((first, -0.1), ("NONE", -2.5))
        return Completion(reply, (Token(first, top[0][1], top),))

    def stream(self, messages, **_):
        self.prompts.append(messages[-1]["content"])
        reply = self.replies.pop(0)
        for word in reply.split(" "):
            yield word + " "


def reader_for(assistant, llm, **kwargs):
    return LLMReader(assistant.embedder, llm=llm, extractive=assistant.reader("extractive"),
                     calibrated=TRUST_THE_MODEL, **kwargs)


def test_align_exact_loose_fuzzy_and_refused():
    text = "The Perito Moreno glacier advances about two  metres a day."
    assert align("two  metres", text) == (text.index("two"), text.index("two") + len("two  metres"))
    start, end = align("TWO metres a day.", text)
    assert text[start:end] == "two  metres a day"
    start, end = align("Perito Morena glacier", text)
    assert text[start:end] == "Perito Moreno glacier"
    assert align("seven kilometres", text) is None
    marta = "Marta Ruiz lit the lamp."
    assert align("Mar", marta) == (0, 5)  # a copied part of a word shows the whole word
    tower = "The tower is 43 metres tall and cost $500 million in 1999."
    assert [tower[slice(*align(n, tower))] for n in ("43", "500", "1999")] == ["43 metres", "500 million", "1999"]
    assert align("", text) is None


def test_an_answer_never_shows_half_a_quotation():
    text = "He faces fraudulent charges of “narco-terrorism.” The trial opens in May."
    assert text[slice(*align("fraudulent charges of “narco-terrorism", text))] == "fraudulent charges of “narco-terrorism.”"
    said = 'Critics called the vote "a sham" twice, and the “reform” stalled.'
    assert said[slice(*align('a sham" twice', said))] == '"a sham" twice'  # a straight quote closed inside opens too
    assert said[slice(*align('called the vote "a sham', said))] == 'called the vote "a sham"'
    assert said[slice(*align("reform” stalled", said))] == "“reform” stalled"
    assert said[slice(*align("the vote", said))] == "the vote"  # no quote, nothing moves
    lone = "The sign read “closed for the season"
    assert lone[slice(*align("“closed for the season", lone))] == "closed for the season"  # no other half: left out


def test_short_answer_is_the_source_characters(assistant):
    llm = FakeLLM("2018")
    reading = reader_for(assistant, llm).read(QUESTION, assistant.retriever().search(QUESTION, 5), assistant.store.document)
    assert reading.text == "2018" and not reading.abstained
    citation = reading.citations[0]
    assert citation.quote == assistant.store.document(citation.doc_id).text[citation.start : citation.end]
    assert "2018" in citation.quote
    document = assistant.store.document(citation.doc_id)
    assert document.text[reading.answer_span[0] : reading.answer_span[1]] == "2018"
    assert "Question: When was the lava lake of Kilauea drained?" in llm.prompts[0]
    assert "Its lava lake was drained in 2018." in llm.prompts[0]  # the best sentence, alone


def test_the_time_the_judge_takes_is_recorded_with_the_answer(assistant):
    import time

    class SlowChecks(FakeLLM):
        def complete(self, messages, **kwargs):
            if messages[0]["content"] == VERIFY_SYSTEM:
                time.sleep(0.05)
            return super().complete(messages, **kwargs)

    hits = assistant.retriever().search(QUESTION, 5)
    checked = reader_for(assistant, SlowChecks("2018")).read(QUESTION, hits, assistant.store.document)
    assert checked.signals["judge_ms"] >= 50  # one check, at least its 50 ms
    declined = reader_for(assistant, SlowChecks("NONE", "NONE", "NONE")).read(QUESTION, hits, assistant.store.document)
    assert declined.signals["judge_ms"] == 0.0  # nothing proposed, nothing checked


def test_words_not_in_the_source_are_never_shown(assistant):
    llm = FakeLLM("in the spring of nineteen eighteen, sadly", "NONE", "NONE")
    reading = reader_for(assistant, llm).read(QUESTION, assistant.retriever().search(QUESTION, 5), assistant.store.document)
    assert "sadly" not in reading.text


def _answer_in(sentence: str, question: str) -> str:
    """A word of `sentence` the question does not hold (what a model could copy as an answer from it), or NONE."""
    from rag.text import content_terms

    asked = set(content_terms(question))
    return next((w.strip(".,") for w in sentence.split() if content_terms(w) and not set(content_terms(w)) & asked),
                "NONE")


def test_a_none_on_the_best_sentence_asks_the_next_one(assistant):
    question = "Which volcano erupted violently in 1669?"
    hits = assistant.retriever().search(question, 5)
    ranked = assistant.reader("extractive").ranked(question, hits, assistant.store.document)
    # The first sentence below the best one that holds a word the question does not: the model answers there.
    later, answer = next((n, _answer_in(s.text, question)) for n, s in enumerate(ranked)
                         if n and _answer_in(s.text, question) != "NONE")
    llm = FakeLLM(*["NONE"] * later, answer)
    reader = reader_for(assistant, llm, settings=LLMSettings(next_sentence_margin=20.0, max_sentences=later + 1))
    reading = reader.read(question, hits, assistant.store.document)
    assert len(llm.prompts) == later + 1 and ranked[later].text.split()[0] in llm.prompts[-1]
    assert reading.text == answer and reading.signals["sentence_rank"] == float(later)
    assert reading.citations[0].quote == ranked[later].text


@pytest.mark.parametrize("second_is_sure", [True, False])
def test_an_answer_the_judge_doubts_sends_the_reader_on_and_the_surest_answer_is_kept(assistant, second_is_sure):
    question = "Which volcano erupted violently in 1669?"
    hits = assistant.retriever().search(question, 5)
    ranked = assistant.reader("extractive").ranked(question, hits, assistant.store.document)[:4]
    replies = [_answer_in(s.text, question) for s in ranked]
    answered = [n for n, reply in enumerate(replies) if reply != "NONE"]
    assert len(answered) >= 2
    verdicts = ["No", "Yes"] if second_is_sure else ["No"] * len(answered)
    llm = FakeLLM(*replies, verdict=verdicts)
    reader = reader_for(assistant, llm, settings=LLMSettings(next_sentence_margin=20.0, max_sentences=len(ranked),
                                                             read_on_below=0.5))
    reading = reader.read(question, hits, assistant.store.document)
    kept = answered[1] if second_is_sure else answered[0]  # a sure answer ends the reading; else the first stands
    assert len(llm.checks) == len(verdicts) and len(llm.prompts) == (kept + 1 if second_is_sure else len(ranked))
    assert reading.text == replies[kept] and reading.citations[0].quote == ranked[kept].text
    assert reading.signals["sentence_rank"] == float(kept)
    assert (reading.signals["verified"] > 0.5) == second_is_sure


def test_a_reply_that_only_repeats_the_question_is_no_answer(assistant):
    question = "Which volcano erupted violently in 1669?"
    hits = assistant.retriever().search(question, 5)
    llm = FakeLLM("the volcano that erupted", "NONE", "NONE")
    reader = reader_for(assistant, llm, settings=LLMSettings(next_sentence_margin=20.0))
    reading = reader.read(question, hits, assistant.store.document)
    assert len(llm.prompts) >= 2  # the echo sent the reader on to the next sentence
    assert reading.signals["model_declined"] == 1.0


def test_the_model_saying_none_everywhere_declines(assistant):
    question = "What is the boiling point of mercury?"
    llm = FakeLLM("NONE", "NONE", "NONE")
    reading = reader_for(assistant, llm).read(question, assistant.retriever().search(question, 5), assistant.store.document)
    assert reading.abstained and reading.signals["model_declined"] == 1.0
    assert reading.signals["none_probability"] > 0.9


def test_an_answer_is_checked_against_its_sentence(assistant):
    question = QUESTION
    hits = assistant.retriever().search(question, 5)
    doubtful = Calibration(("verified",), (6.0,), -3.0, 0.5)  # answers only what the check confirms
    llm = FakeLLM("2018", verdict="No")
    reading = LLMReader(assistant.embedder, llm=llm, extractive=assistant.reader("extractive"), calibrated=doubtful).read(
        question, hits, assistant.store.document)
    assert llm.checks and "Proposed answer: 2018" in llm.checks[0] and "drained in 2018" in llm.checks[0]
    assert reading.abstained and reading.signals["verified"] < 0.2
    confirmed = LLMReader(assistant.embedder, llm=FakeLLM("2018"), extractive=assistant.reader("extractive"),
                          calibrated=doubtful).read(question, hits, assistant.store.document)
    assert confirmed.text == "2018" and confirmed.signals["verified"] > 0.8


DATED = {
    "launch.txt": "Diablo 3 launches on 15th May, Blizzard has announced. The studio also showed a trailer.",
    "review.txt": "Diablo 3 was released worldwide on May 15, 2012, after years of work.",
    "patch.txt": "The first patch for the game arrived on May 16, 2012, a day later.",
    "anniversary.txt": "May 15, 2022 ... Ten years on, players still log in every night.",
}


def indexed(tmp_path, name: str, files: dict[str, str], embedder, reranker):
    """An assistant over a folder holding `files` (name -> text), with the small fakes."""
    from rag.assistant import Assistant, Settings

    folder = tmp_path / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text, encoding="utf-8")
    instance = Assistant(Settings(index_dir=tmp_path / f"{name}-index"), embedder=embedder, reranker=reranker)
    instance.index_paths([folder])
    return instance


@pytest.fixture
def dated(tmp_path, fake_embedder, fake_reranker):
    return indexed(tmp_path, "dated", DATED, fake_embedder, fake_reranker)


@pytest.mark.parametrize("confirmed", [True, False])
def test_a_date_without_its_year_is_completed_from_a_sentence_that_agrees(dated, confirmed):
    question = "When does Diablo 3 launch?"  # the sentence with "launches" ranks first; it gives no year
    hits = dated.retriever().search(question, 5)
    assert "15th May" in dated.reader("extractive").ranked(question, hits, dated.store.document)[0].text
    llm = FakeLLM("15th May", verdict=["Yes", "Yes" if confirmed else "No", "No"])
    reading = reader_for(dated, llm).read(question, hits, dated.store.document)
    if confirmed:
        assert reading.text == "May 15, 2012" and reading.signals["date_completed"] == 1.0
        assert reading.citations[0].quote == DATED["review.txt"]  # the sentence that states the fuller date
        assert "Proposed answer: May 15, 2012" in llm.checks[1]
    else:  # unconfirmed, the answer stays what its own sentence says; a date that disagrees is never taken
        assert reading.text == "15th May" and "date_completed" not in reading.signals
        assert reading.citations[0].quote.startswith("Diablo 3 launches")
        assert not any("May 16" in check for check in llm.checks)
        assert not any("2022" in check for check in llm.checks)  # a dateline that names nothing the question asks
    document = dated.store.document(reading.citations[0].doc_id)
    assert document.text[reading.answer_span[0] : reading.answer_span[1]] == reading.text


def test_the_extractive_reader_completes_a_date_from_a_sentence_that_names_the_question_s_subject(dated):
    question = "When does Diablo 3 launch?"
    reading = dated.reader("extractive").read(question, dated.retriever().search(question, 5), dated.store.document)
    assert reading.text == "May 15, 2012" and reading.signals["date_completed"] == 1.0  # not the dateline's 2022
    assert reading.citations[0].quote == DATED["review.txt"]
    document = dated.store.document(reading.citations[0].doc_id)
    assert document.text[reading.answer_span[0] : reading.answer_span[1]] == "May 15, 2012"


def test_a_date_is_completed_inside_its_own_sentence_without_a_check(tmp_path, fake_embedder, fake_reranker):
    instance = indexed(tmp_path, "zelda", {"zelda.txt": "Ocarina of Time is a classic that was released on November 21 "
                                                        "of 1998 in Japan, and soon after elsewhere."},
                       fake_embedder, fake_reranker)
    question = "When was Ocarina of Time released?"
    llm = FakeLLM("November 21")
    reading = reader_for(instance, llm).read(question, instance.retriever().search(question, 5), instance.store.document)
    assert reading.text == "November 21 of 1998" and len(llm.checks) == 1  # the answer's own check only
    # A bare year is widened to the date it was copied from, never completed from another date.
    year = FakeLLM("1998")
    assert reader_for(instance, year).read(question, instance.retriever().search(question, 5),
                                           instance.store.document).text == "November 21 of 1998"


SLATED = {
    "slated.txt": "Splatoon 2 release slated for July, Nintendo says.",
    "coming.txt": "Splatoon 2 is coming to Switch on 21st July, Nintendo says.",
    "wiki.txt": "Splatoon 2 is a 2017 shooter game for the Switch. It was released on July 21, 2017, worldwide.",
}


@pytest.mark.parametrize("reader", ["llm", "extractive"])
def test_the_fullest_date_is_tried_first_and_a_sentence_naming_its_subject_just_before_counts(
        tmp_path, fake_embedder, fake_reranker, reader):
    instance = indexed(tmp_path, "slated", SLATED, fake_embedder, fake_reranker)
    question = "When was Splatoon 2 released?"
    hits = instance.retriever().search(question, 5)
    ranked = instance.reader("extractive").ranked(question, hits, instance.store.document)
    assert ranked[0].text == SLATED["slated.txt"]  # only "July"
    dated = next(s for s in ranked if s.text.startswith("It was released"))
    assert dated.lexical < 0.5  # on its own it names nothing the question asks about
    if reader == "llm":
        llm = FakeLLM("July")
        reading = reader_for(instance, llm).read(question, hits, instance.store.document)
        # the year-giving date is checked first, with the sentence before it; "21st July" is never needed
        assert len(llm.checks) == 2 and "Proposed answer: July 21, 2017" in llm.checks[1]
        assert "Splatoon 2 is a 2017 shooter game" in llm.checks[1]
    else:
        reading = instance.reader("extractive").read(question, hits, instance.store.document)
    assert reading.text == "July 21, 2017" and reading.signals["date_completed"] == 1.0
    # cited from the sentence that says what "it" is, so the citation alone states the answer
    assert reading.citations[0].quote == SLATED["wiki.txt"].rstrip()
    document = instance.store.document(reading.citations[0].doc_id)
    assert document.text[reading.answer_span[0] : reading.answer_span[1]] == "July 21, 2017"


YEARS = {
    "short.txt": "OpenAI was founded in 2015 by a group of researchers and investors.",
    "hiring.txt": "In March 2015 the lab hired its first engineers.",
    "history.txt": "The lab OpenAI was founded on December 11, 2015, as a non-profit.",
}


@pytest.mark.parametrize("asked", ["When was OpenAI founded?", "In what year was OpenAI founded?"])
@pytest.mark.parametrize("confirmed", [True, False])
def test_a_bare_year_is_completed_only_from_a_date_the_judge_confirms(tmp_path, fake_embedder, fake_reranker, asked,
                                                                      confirmed):
    instance = indexed(tmp_path, "years", YEARS, fake_embedder, fake_reranker)
    hits = instance.retriever().search(asked, 5)
    assert instance.reader("extractive").ranked(asked, hits, instance.store.document)[0].text == YEARS["short.txt"]
    llm = FakeLLM("2015", verdict=["Yes", "Yes" if confirmed else "No", "No"])
    reading = reader_for(instance, llm).read(asked, hits, instance.store.document)
    if confirmed and asked.startswith("When"):
        assert reading.text == "December 11, 2015" and reading.citations[0].quote == YEARS["history.txt"]
    else:  # a year asked for stays a year; an unconfirmed date is not taken
        assert reading.text == "2015" and reading.citations[0].quote == YEARS["short.txt"]
    assert not any("March 2015" in check for check in llm.checks)  # a sentence about something else
    # The extractive reader has no judge: its year stays a year.
    plain = instance.reader("extractive").read(asked, hits, instance.store.document)
    assert "December" not in plain.text


def test_date_parts_and_the_fuller_date_that_agrees():
    from rag.readers.spans import DateParts, date_parts, fuller_date

    assert date_parts("15th May") == DateParts(None, 5, 15)
    assert date_parts("Thursday, Nov. 12") == DateParts(None, 11, 12)
    assert date_parts("May 2012") == DateParts(2012, 5, None)
    assert date_parts("the spring") is None
    sentence = "Announced on June 3, 2011, it shipped on 15 May 2012 and was patched on May 16, 2012."
    found = fuller_date("May 2012", sentence)
    assert sentence[found.start : found.end] == "15 May 2012"
    assert fuller_date("15 May 2012", sentence) is None  # nothing fuller than a whole date
    assert fuller_date("May 17", sentence) is None  # no date agrees with it
    # A year, around its own offsets: the date it is part of, not the fullest date of that year in the sentence.
    last = sentence.rindex("2012")
    found = fuller_date("2012", sentence, around=(last, last + 4))
    assert sentence[found.start : found.end] == "May 16, 2012"
    assert fuller_date("2012", "It shipped in 2012, on 15 May 2012.", around=(14, 18)) is None  # a year on its own


def test_none_probability_reads_the_first_token():
    assert none_probability(Completion("NONE", (Token("NONE", -0.1, (("NONE", -0.1), ("No", -3.0))),))) > 0.95
    assert none_probability(Completion("2018", (Token("201", -0.01, (("201", -0.01), ("None", -5.0))),))) < 0.01
    assert none_probability(Completion("NONE")) == 1.0  # no log-probabilities given: the reply decides
    assert yes_probability(Completion("Yes", (Token("Yes", -0.2, (("Yes", -0.2), ("No", -1.8))),))) == pytest.approx(0.832, abs=0.01)
    assert yes_probability(Completion("")) == 0.5


class EndlessServer:
    """Stands in for llama.cpp: streams tokens until the callback asks it to stop (returns True)."""

    def __init__(self):
        self.sent = 0

    def handle_chat_completions(self, request, callback):
        while self.sent < 10_000:
            self.sent += 1
            if callback({"choices": [{"delta": {"content": "word "}}]}):
                return
            time.sleep(0.001)


def test_closing_a_stream_stops_the_generation():
    llm = LocalLLM("unused.gguf")
    llm._server = EndlessServer()
    pieces = llm.stream([{"role": "user", "content": "go on"}])
    assert next(pieces) == "word " and next(pieces) == "word "
    pieces.close()  # the client went away
    assert llm.wait_until_free(2.0)  # the model is free for the next question
    assert llm._server.sent < 100


@pytest.mark.integration
def test_packaged_model_gives_crisp_cited_answers(tmp_path_factory):
    from rag.assistant import Assistant, Settings
    from rag.paths import SEED_CORPUS

    assistant = Assistant(Settings(index_dir=tmp_path_factory.mktemp("llm") / "idx", reader="llm"))
    assistant.index_paths([SEED_CORPUS])
    for question, expected in [
        ("Who said America is prepared to go on offence alone if necessary?", "Hegseth"),
        ("How many fishermen have been killed by US strikes in the Caribbean and Pacific?", "152"),
        ("Through which country was the money from the first oil sales routed?", "Qatar"),
    ]:
        answer = assistant.ask(question)
        assert expected in answer.text, (question, answer.text)
        assert len(answer.text) < 60  # crisp, not a paragraph
        citation = answer.citations[0]
        assert answer.text in citation.quote
        assert assistant.store.document(citation.doc_id).text[citation.start : citation.end] == citation.quote
    # The streamed explanation with the real model: markers that point at the cited passages.
    explained = [e for e in assistant.ask_stream(EXPLAINED, reader="llm-explain") if e[0] != "stage"]
    assert explained[0][0] == "partial"
    final = explained[-1][1]
    assert not final.abstained and final.citations and "[1]" in final.text, final.text
    for citation in final.citations:
        assert assistant.store.document(citation.doc_id).text[citation.start : citation.end] == citation.quote


@pytest.mark.integration
def test_a_client_that_leaves_mid_stream_frees_the_model(tmp_path_factory):
    from rag.llm import resolve_gguf, shared_llm
    from rag.paths import cache_dir

    llm = shared_llm(resolve_gguf(None, cache_dir()))
    pieces = llm.stream([{"role": "user", "content": "Write a long story about a lighthouse keeper."}], max_tokens=400)
    next(pieces)
    pieces.close()
    # The next question can start within a second, not after 400 more tokens (about 13 s on 2 cores).
    assert llm.wait_until_free(1.0)
    assert llm.complete([{"role": "user", "content": "Say OK."}], max_tokens=2).text
