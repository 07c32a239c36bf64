"""Document -> Chunks, sized in the embedder's own tokens, with verified offsets.

langchain-text-splitters decides where to cut (paragraphs, then lines, sentences, words, characters); this module
finds each piece in the document and builds every Chunk through `make_chunk`, which checks
`chunk.text == document.text[start:end]`. A piece that still exceeds the token limit (the splitter measures pieces
one by one and their sum can differ from the whole) is cut again, so no chunk is silently truncated by the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rag.errors import ChunkingError, OffsetError
from rag.types import Chunk, Document

TokenCounter = Callable[[str], int]

# Paragraphs, lines, sentence ends, clause breaks, words, then characters (for long runs without spaces).
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


@dataclass(frozen=True)
class ChunkSettings:
    chunk_tokens: int = 160
    overlap_tokens: int = 32

    def __post_init__(self) -> None:
        if self.chunk_tokens < 8:
            raise ChunkingError(f"chunk size {self.chunk_tokens} tokens is too small", hint="use at least 8 tokens")
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise ChunkingError(
                f"overlap {self.overlap_tokens} must be at least 0 and below the chunk size {self.chunk_tokens}",
                hint="lower the overlap",
            )

    def as_dict(self) -> dict[str, int]:
        return {"chunk_tokens": self.chunk_tokens, "overlap_tokens": self.overlap_tokens}


def make_chunk(document: Document, index: int, start: int, end: int) -> Chunk:
    """The one constructor of chunks: slices the document, so the offset invariant holds by construction."""
    if not 0 <= start < end <= len(document.text):
        raise OffsetError(f"chunk span {start}:{end} is outside {document.source}", hint="this is a bug; please report it")
    return Chunk(f"{document.doc_id}-{index}", document.doc_id, start, end, document.text[start:end])


def _split_oversized(text: str, start: int, end: int, limit: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Halve [start, end) at the nearest whitespace until each part fits in `limit` tokens."""
    if end - start <= 1 or count(text[start:end]) <= limit:
        return [(start, end)]
    middle = (start + end) // 2
    space = text.rfind(" ", start + 1, middle + 1)
    cut = space if space > start else middle
    left = _trim(text, start, cut)
    right = _trim(text, cut, end)
    return [p for span in (left, right) if span for p in _split_oversized(text, *span, limit, count)]


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


class Chunker:
    def __init__(self, count_tokens: TokenCounter, settings: ChunkSettings = ChunkSettings(), max_tokens: int | None = None):
        if max_tokens is not None and settings.chunk_tokens > max_tokens:
            raise ChunkingError(
                f"chunk size {settings.chunk_tokens} tokens exceeds the embedder's window of {max_tokens}",
                hint=f"use --chunk-tokens {max_tokens} or less",
            )
        self.count_tokens = count_tokens
        self.settings = settings
        self._splitter = None

    def _get_splitter(self):
        if self._splitter is None:
            from langchain_text_splitters import RecursiveCharacterTextSplitter

            # The splitter cuts disjoint pieces (no overlap of its own), leaving room for the overlap added below:
            # disjoint pieces have exactly one place in the text, even in repetitive text where an overlapping
            # piece could match at several.
            self._splitter = RecursiveCharacterTextSplitter(
                separators=SEPARATORS,
                chunk_size=self.settings.chunk_tokens - self.settings.overlap_tokens,
                chunk_overlap=0,
                length_function=self.count_tokens,
                keep_separator="end",
                strip_whitespace=True,
            )
        return self._splitter

    def spans(self, text: str) -> list[tuple[int, int]]:
        """[start, end) spans covering the text's content, in order, each overlapping the previous one."""
        if not text.strip():
            return []
        pieces: list[tuple[int, int]] = []
        cursor = 0
        for piece in self._get_splitter().split_text(text):
            while cursor < len(text) and text[cursor].isspace():
                cursor += 1
            if not text.startswith(piece, cursor):
                # Never expected: the splitter keeps every character but surrounding whitespace.
                found = text.find(piece, cursor)
                if found < 0:
                    raise OffsetError("the splitter returned text that is not in the document", hint="this is a bug; please report it")
                cursor = found
            pieces.append((cursor, cursor + len(piece)))
            cursor += len(piece)
        spans: list[tuple[int, int]] = []
        previous_start = 0
        for number, (start, end) in enumerate(pieces):
            if number:
                start = max(self._overlap_start(text, previous_start, pieces[number - 1][1]), previous_start + 1)
            previous_start = start
            spans.extend(_split_oversized(text, start, end, self.settings.chunk_tokens, self.count_tokens))
        return spans

    def _overlap_start(self, text: str, lower: int, previous_end: int) -> int:
        """The earliest word start in text[lower:previous_end] whose tail fits in the overlap setting."""
        best = previous_end
        position = previous_end
        while self.settings.overlap_tokens:
            space = max(text.rfind(" ", lower, position - 1), text.rfind("\n", lower, position - 1))
            if space < lower:
                break
            candidate = space + 1
            while candidate < previous_end and text[candidate].isspace():
                candidate += 1
            if candidate >= position:
                position = space
                continue
            if self.count_tokens(text[candidate:previous_end]) > self.settings.overlap_tokens:
                break
            best = position = candidate
        return best

    def chunk(self, document: Document) -> list[Chunk]:
        return [make_chunk(document, i, s, e) for i, (s, e) in enumerate(self.spans(document.text))]
