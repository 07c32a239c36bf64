import pytest

from rag.assistant import Assistant
from rag.settings import MAX_QUESTION_CHARS, Settings, clean_question, retrieval_query
from rag.types import answer_to_dict
from rag.errors import QuestionError, RagError


@pytest.mark.parametrize(
    "question, message",
    [
        ("", "the question is empty"),
        ("   \t\n ", "the question is empty"),
        ("x" * (MAX_QUESTION_CHARS + 1), f"over the limit of {MAX_QUESTION_CHARS:,}"),
        ("?!... ---", "no words"),
    ],
)
def test_bad_questions_say_what_to_fix(question, message):
    with pytest.raises(QuestionError, match=message):
        clean_question(question)


def test_control_characters_and_spacing_are_tidied():
    assert clean_question("  Who\x00 said\n\tit? ") == "Who said it?"


def test_follow_ups_are_searched_with_the_previous_question():
    assert retrieval_query("And when?", ["Who drained the lake?"]) == "Who drained the lake? And when?"
    assert retrieval_query("Which river reaches the North Sea?", ["Who drained the lake?"]) == "Which river reaches the North Sea?"


def test_settings_are_validated():
    with pytest.raises(RagError, match="unknown reader 'magic'"):
        Settings(reader="magic")
    with pytest.raises(RagError, match="0 passages cannot be retrieved"):
        Settings(k=0)


def test_answer_json_shape_is_stable(assistant):
    answer = assistant.ask("Where does the Rhine rise?")
    data = answer_to_dict(answer)
    assert list(data) == ["question", "answer", "abstained", "citations", "hits", "timings_ms", "kind", "short"]
    assert list(data["citations"][0]) == ["doc_id", "source", "start", "end", "quote"]
    assert list(data["hits"][0]) == ["source", "start", "end", "score"]
    assert data["citations"][0]["source"].endswith("rivers.txt")
    assert "Swiss Alps" in data["answer"]
    assert data["timings_ms"]["total_ms"] > 0


def test_a_follow_up_question_in_a_conversation(assistant):
    first = assistant.ask("Which volcano is on the east coast of Sicily?")
    assert "Etna" in first.text
    follow_up = assistant.ask("When did it erupt?", history=[first.question])
    assert "1669" in follow_up.text


def test_updates_are_seen_by_the_next_question(assistant, tmp_path):
    extra = tmp_path / "lakes.txt"
    extra.write_text("Lake Baikal in Siberia is the deepest lake on Earth.")
    assistant.index_paths([extra])
    assert "Baikal" in assistant.ask("Which lake is the deepest on Earth?").text
    assistant.remove(str(extra))
    assert all("Baikal" not in h.chunk.text for h in assistant.ask("Which lake is the deepest on Earth?").hits)


def test_an_existing_index_is_searched_and_updated_with_the_backend_that_built_it(tmp_path, corpus_dir, monkeypatch):
    import rag.embedding
    from tests.conftest import FakeEmbedder

    class Named(FakeEmbedder):
        name = "some/model"

        def __init__(self, backend):
            super().__init__()
            self.backend = backend
            self.model_id = rag.embedding.embedder_id(self.name, backend)

    monkeypatch.setattr(rag.embedding, "Embedder", lambda name, backend: Named(backend))
    Assistant(Settings(index_dir=tmp_path / "idx"), embedder=Named("torch")).index_paths([corpus_dir])

    later = Assistant(Settings(index_dir=tmp_path / "idx"), embedder=Named("onnx-int8"))
    assert later.ask("Where is Mount Etna?").citations
    assert later.embedder.model_id == "some/model" and later.embedder.backend == "onnx"
    later.index_paths([corpus_dir])  # an update keeps the index's backend too
    assert later.store.info.embedder_id == "some/model"

    rebuilt = Assistant(Settings(index_dir=tmp_path / "idx"), embedder=Named("onnx-int8"))
    rebuilt.index_paths([corpus_dir], rebuild=True)
    assert rebuilt.store.info.embedder_id == "some/model:int8"
