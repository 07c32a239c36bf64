"""Bad input, fuzzed: every case answers or raises the library's own error, never anything else.

The default run keeps each property's examples small; `make fuzz` multiplies them (RAG_FUZZ_SCALE) to run well
over ten thousand examples in all, and prints hypothesis's statistics per property.
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCALE = max(1, int(os.environ.get("RAG_FUZZ_SCALE", "1")))


def examples(count: int) -> settings:
    return settings(max_examples=count * SCALE, deadline=None, suppress_health_check=list(HealthCheck))

from rag.settings import clean_question
from rag.errors import LoadError, QuestionError, RagError
from rag.loaders import clean_text, load_file

SUFFIXES = [".txt", ".md", ".html", ".pdf", ".docx"]


@examples(150)
@given(data=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES))
def test_loaders_on_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    try:
        document = load_file(path)
    except LoadError as exc:
        assert path.name in str(exc)
    else:
        assert document.text and document.text == clean_text(document.text)


@examples(100)
@given(prefix=st.integers(min_value=0, max_value=2000), suffix=st.sampled_from([".pdf", ".docx"]))
def test_truncated_pdf_and_docx(tmp_path, prefix, suffix, request):
    source = request.getfixturevalue("sample_files")[suffix]
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(source[:prefix])
    try:
        load_file(path)
    except LoadError as exc:
        assert path.name in str(exc)


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory):
    import docx
    from fpdf import FPDF

    folder = tmp_path_factory.mktemp("samples")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="A sample page of text.")
    pdf.output(str(folder / "s.pdf"))
    document = docx.Document()
    document.add_paragraph("A sample paragraph.")
    document.save(str(folder / "s.docx"))
    return {".pdf": (folder / "s.pdf").read_bytes(), ".docx": (folder / "s.docx").read_bytes()}


def test_encrypted_pdf_is_a_clear_error(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner")
    path = tmp_path / "locked.pdf"
    with open(path, "wb") as handle:
        writer.write(handle)
    with pytest.raises(LoadError, match="encrypted PDF.*remove its password"):
        load_file(path)


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252", "latin-1", "shift_jis", "koi8-r"])
def test_non_utf8_encodings(tmp_path, encoding):
    text = {"shift_jis": "日本語のテキストです。東京は首都です。", "koi8-r": "Москва - столица России. Это текст."}.get(
        encoding, "Grüße aus Köln, naïve café crème."
    )
    path = tmp_path / "enc.txt"
    path.write_bytes(text.encode(encoding))
    assert load_file(path).text == text


@examples(300)
@given(question=st.text(max_size=3000))
def test_questions_of_any_shape(question):
    try:
        cleaned = clean_question(question)
    except QuestionError as exc:
        assert exc.hint
    else:
        assert cleaned and len(cleaned) <= 1000 and cleaned == cleaned.strip()


@pytest.mark.parametrize(
    "question",
    ["\x00\x01\x02 what?", "x" * 100_000, "?!?!...", "¿Dónde está el volcán Etna?", "埃特纳火山在哪里？", "Где Этна?", "🙂🙂🙂"],
)
def test_odd_questions_answer_or_explain(assistant, question):
    try:
        answer = assistant.ask(question)
    except RagError as exc:
        assert isinstance(exc, QuestionError) and exc.hint
    else:
        assert answer.text
        for citation in answer.citations:
            assert citation.quote == assistant.store.document(citation.doc_id).text[citation.start : citation.end]


def test_a_single_50_mb_line_loads_whole(tmp_path):
    path = tmp_path / "one-line.txt"
    words = "lava " * 10_000_000
    path.write_text(words + "end", encoding="utf-8")
    document = load_file(path)
    assert len(document.text) == len(words) + 3 and "\n" not in document.text
    assert document.text.endswith("lava end")


def test_a_long_line_without_spaces_is_chunked_within_the_token_limit(fake_embedder):
    from rag.chunking import Chunker, ChunkSettings
    from rag.types import Document

    text = "x" * 200_000 + " tail"
    chunker = Chunker(lambda s: len(s) // 4 + 1, ChunkSettings(chunk_tokens=160, overlap_tokens=32))
    chunks = chunker.chunk(Document("d", "one-line.txt", "one-line.txt", text))
    assert chunks and chunks[-1].text.endswith("tail")
    assert all(len(c.text) // 4 + 1 <= 160 and c.text == text[c.start : c.end] for c in chunks)


MARKUP = st.lists(st.sampled_from([
    "<p>", "</p>", "<br>", "<table>", "<tr>", "<td>", "<li>", "<head>", "<title>", "</title>", "<body>", "<script>",
    "</script>", "<style>", "<!--", "-->", "&amp;", "&lt;", "&#x1F642;", "&nbsp;", "<meta name='author' content='A B'>",
    "By Ann Lee", "6 March 2026", "Title: x", "\n", "\r\n", " ", "word", "Été", "日本", "🙂", "\\$5", "\x00",
]), max_size=60).map("".join)


@examples(150)
@given(text=MARKUP, suffix=st.sampled_from([".html", ".md", ".txt"]))
def test_loaders_on_markup_like_text(tmp_path, text, suffix):
    path = tmp_path / f"page{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        document = load_file(path)
    except LoadError as exc:
        assert path.name in str(exc)
    else:
        assert document.text == clean_text(document.text)
        for start, end in (document.meta.get("fields") or {}).values():
            assert 0 <= start < end <= len(document.text)


TEXTS = st.text(alphabet=st.characters(codec="utf-8"), max_size=1500) | st.lists(
    st.sampled_from(["word", " ", "\n", "\n\n", ".", "é", "🙂", "\r\n", "x" * 50, "Mr. A. B.", "\t"]), max_size=200
).map("".join)


@examples(200)
@given(text=TEXTS, size=st.integers(min_value=8, max_value=64), overlap=st.integers(min_value=0, max_value=7))
def test_chunk_offsets_always_slice_the_document(text, size, overlap):
    from rag.chunking import Chunker, ChunkSettings
    from rag.types import Document

    count = lambda s: len(s.split()) + len(s) // 16  # noqa: E731 - a token counter unlike any word split
    chunks = Chunker(count, ChunkSettings(chunk_tokens=size, overlap_tokens=overlap)).chunk(Document("d", "f", "f", text))
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end] and chunk.text
        assert count(chunk.text) <= size
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


API_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 500), st.floats(allow_nan=True), st.text(max_size=50),
                       st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@examples(100)
@given(question=st.one_of(st.text(max_size=300), API_VALUES), k=API_VALUES,
       reader=st.one_of(st.sampled_from(["extractive", "llm-explain", "qa-model", ""]), API_VALUES))
def test_api_inputs_answer_or_explain(chat_app, question, k, reader):
    import gradio as gr

    try:
        data = chat_app.ask_api(question, k, reader)
    except gr.Error as exc:
        assert str(exc)
    else:
        for citation in data["citations"]:
            assert citation["quote"] and citation["end"] > citation["start"]


@pytest.fixture(scope="module")
def chat_app(tmp_path_factory):
    from rag.assistant import Assistant, Settings
    from tests.conftest import CORPUS, FakeEmbedder, FakeReranker
    from ui.app import ChatApp

    folder = tmp_path_factory.mktemp("fuzz-docs")
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    assistant = Assistant(Settings(index_dir=tmp_path_factory.mktemp("fuzz") / "index"), embedder=FakeEmbedder(),
                          reranker=FakeReranker())
    assistant.index_paths([folder])
    # The llm-explain reader would need the packaged model; questions for it are checked before any model runs.
    assistant._readers[("llm-explain", ())] = assistant.reader("extractive")
    return ChatApp(assistant)
