import pytest

from rag.chunking import Chunker, ChunkSettings, make_chunk
from rag.errors import ChunkingError, OffsetError
from rag.loaders import content_id
from rag.types import Document
from tests.conftest import FakeEmbedder

AWKWARD = [
    "",
    "x",
    "🙂",
    "emoji 🙂🙃 family 👨‍👩‍👧 flags 🇫🇷 in a sentence. " * 30,
    "line one\r\nline two\r\n" * 40,
    "Repeated line.\n" * 200,
    "a" * 5000,
    "nospace" * 800 + " then words " * 50,
    "Mixed scripts: Ελληνικά, русский, 中文字符, العربية. " * 40,
    "\n\n\n   \n",
    "Trailing spaces   \n\n  and leading  " * 30,
]


def doc(text: str) -> Document:
    return Document(content_id(text), "mem.txt", "mem", text)


@pytest.mark.parametrize("text", AWKWARD, ids=range(len(AWKWARD)))
def test_offsets_round_trip_on_awkward_text(text):
    counter = FakeEmbedder().count_tokens
    chunker = Chunker(counter, ChunkSettings(chunk_tokens=24, overlap_tokens=6))
    document = doc(text)
    chunks = chunker.chunk(document)
    for chunk in chunks:
        assert chunk.text == document.text[chunk.start : chunk.end]
        assert chunk.text.strip() == chunk.text and chunk.text
        assert counter(chunk.text) <= 24
    # Every non-space character of the document is in some chunk: nothing is lost.
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_chunks_overlap():
    text = " ".join(f"word{i}" for i in range(300))
    chunks = Chunker(FakeEmbedder().count_tokens, ChunkSettings(chunk_tokens=50, overlap_tokens=10)).chunk(doc(text))
    assert len(chunks) > 5
    assert all(later.start < earlier.end for earlier, later in zip(chunks, chunks[1:]))


def test_make_chunk_refuses_spans_outside_the_document():
    with pytest.raises(OffsetError):
        make_chunk(doc("short"), 0, 2, 99)


def test_settings_are_validated():
    with pytest.raises(ChunkingError, match="overlap"):
        ChunkSettings(chunk_tokens=50, overlap_tokens=50)
    with pytest.raises(ChunkingError, match="exceeds the embedder's window of 254"):
        Chunker(len, ChunkSettings(chunk_tokens=300), max_tokens=254)
