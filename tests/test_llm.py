import pytest

from rag.readers.llm import LLMReader, align


class FakeLLM:
    """Replies with canned text; records prompts."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.prompts = []

    def text(self, messages, **_):
        self.prompts.append(messages[-1]["content"])
        return self.replies.pop(0)

    def stream(self, messages, **_):
        self.prompts.append(messages[-1]["content"])
        reply = self.replies.pop(0)
        for word in reply.split(" "):
            yield word + " "


def test_align_exact_loose_fuzzy_and_refused():
    text = "The Perito Moreno glacier advances about two  metres a day."
    assert align("two  metres", text) == (text.index("two"), text.index("two") + len("two  metres"))
    start, end = align("TWO metres a day.", text)
    assert text[start:end] == "two  metres a day"
    start, end = align("Perito Morena glacier", text)
    assert text[start:end] == "Perito Moreno glacier"
    assert align("seven kilometres", text) is None
    assert align("", text) is None


def test_short_answer_is_the_source_characters(assistant):
    llm = FakeLLM("[1] 2018")
    reader = LLMReader(assistant.embedder, llm=llm)
    hits = assistant.retriever().search("When was the lava lake of Kilauea drained?", 5)
    reading = reader.read("When was the lava lake of Kilauea drained?", hits, assistant.index.document)
    assert reading.text == "2018" and not reading.abstained
    citation = reading.citations[0]
    assert citation.quote == assistant.index.document(citation.doc_id).text[citation.start : citation.end]
    assert "2018" in citation.quote
    assert "Question: When was the lava lake of Kilauea drained?" in llm.prompts[0]


def test_words_not_in_the_source_are_never_shown(assistant):
    reader = LLMReader(assistant.embedder, llm=FakeLLM("[1] in the spring of nineteen eighteen, sadly"))
    question = "When was the lava lake of Kilauea drained?"
    reading = reader.read(question, assistant.retriever().search(question, 5), assistant.index.document)
    assert "sadly" not in reading.text
    assert reading.text == "2018"  # the extractive reader's span instead


def test_none_declines_unless_the_passages_clearly_answer(assistant):
    question = "What is the boiling point of mercury?"
    reader = LLMReader(assistant.embedder, llm=FakeLLM("NONE"))
    assert reader.read(question, assistant.retriever().search(question, 5), assistant.index.document).abstained


def test_explained_answer_keeps_valid_markers_only(assistant):
    llm = FakeLLM("Kilauea's lava lake was drained in 2018 [1]. It is in Hawaii [9].")
    reader = LLMReader(assistant.embedder, llm=llm, explain=True)
    question = "When was the lava lake of Kilauea drained?"
    events = list(reader.stream(question, assistant.retriever().search(question, 5), assistant.index.document))
    assert [e for e, _ in events[:-1]] == ["partial"] * (len(events) - 1)
    reading = events[-1][1]
    assert reading.text == "Kilauea's lava lake was drained in 2018 [1]. It is in Hawaii."
    assert reading.partly_unsupported
    assert len(reading.citations) == 1 and "2018" in reading.citations[0].quote


@pytest.mark.integration
def test_packaged_model_gives_crisp_cited_answers(tmp_path_factory):
    from rag.assistant import SEED_CORPUS, Assistant, Settings

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
        assert assistant.index.document(citation.doc_id).text[citation.start : citation.end] == citation.quote
