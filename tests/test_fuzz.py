"""Bad input, fuzzed: every case answers or raises the library's own error, never anything else."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.assistant import clean_question
from rag.errors import LoadError, QuestionError, RagError
from rag.loaders import clean_text, load_file

SUFFIXES = [".txt", ".md", ".html", ".pdf", ".docx"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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


@settings(max_examples=300, deadline=None)
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
            assert citation.quote == assistant.index.document(citation.doc_id).text[citation.start : citation.end]


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
