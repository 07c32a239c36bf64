"""Frozen dataclasses passed between pipeline stages.

Offsets are the backbone: `Chunk.text == Document.text[start:end]` and `Citation.quote == Document.text[start:end]`
for the document the object names. They are checked where the objects are made (see `chunking.make_chunk` and
`Citation.from_document`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Mapping

from rag.errors import OffsetError


@dataclass(frozen=True)
class Document:
    """One loaded file. `text` is the cleaned text every offset refers to; `doc_id` is a hash of that text."""

    doc_id: str
    source: str
    title: str
    text: str
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The file name people see: an upload's original name, else the source's file name."""
        return str(self.meta.get("name") or PurePath(self.source).name)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page (slide, sheet) holding `offset`, for documents loaded from paginated files; else None."""
        for number, (start, end) in enumerate(self.meta.get("pages", ()), start=1):
            if start <= offset < end or (offset == end and start == end):
                return number
        return None

    def place_at(self, offset: int) -> str | None:
        """Where `offset` is, as a person names it: "page 3" (PDF), "slide 2" (deck), "sheet Prices" (workbook)."""
        number = self.page_at(offset)
        if number is None:
            return None
        names = self.meta.get("page_names") or ()
        if number <= len(names):
            return f"{self.meta.get('page_unit', 'page')} {names[number - 1]}"
        return f"{self.meta.get('page_unit', 'page')} {number}"


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int
    scores_by_retriever: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Citation:
    doc_id: str
    source: str
    start: int
    end: int
    quote: str

    @classmethod
    def from_document(cls, document: Document, start: int, end: int) -> "Citation":
        """The only way citations are made: the quote is read from the document, never from model output."""
        if not 0 <= start < end <= len(document.text):
            raise OffsetError(
                f"citation span {start}:{end} is outside {document.source} ({len(document.text)} characters)",
                hint="this is a bug in the reader; please report it with the question",
            )
        return cls(document.doc_id, document.source, start, end, document.text[start:end])


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    abstained: bool
    timings: Mapping[str, float] = field(default_factory=dict)
    confidence: float = 0.0
    partly_unsupported: bool = False
    # Document offsets of the short answer inside the first citation, when the answer is part of the quote.
    answer_span: tuple[int, int] | None = None
    signals: Mapping[str, float] = field(default_factory=dict)  # what the confidence was computed from
    # The documents the answer cites and retrieved, as they were when it was made (doc_id -> Document).
    documents: Mapping[str, Document] = field(default_factory=dict)
    short: str | None = None  # the crisp answer ("Yes", a name, the items of a list) when the shape has one
    kind: str | None = None  # the question's kind (rag.questions: fact, list, yesno, ...) when the reader decided it

    def document(self, doc_id: str) -> Document:
        return self.documents[doc_id]


@dataclass(frozen=True)
class Passage:
    """A retrieved passage: `text == document.text[start:end]` of the document at `source`."""

    source: str
    doc_id: str
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class DocumentInfo:
    source: str
    name: str
    title: str
    chars: int
    chunks: int
    size_bytes: int | None


def answer_to_dict(answer: Answer, *, paths: bool = True) -> dict:
    """The stable JSON shape of `rag ask --json` (scripts depend on these keys). With paths=False (anything served
    over the network) a source is the document's file name, never a path on the server, and its title comes along."""

    def source(doc_id: str) -> dict:
        document = answer.document(doc_id)
        return {"source": document.source} if paths else {"source": document.name, "title": document.title}

    return {
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [
            {"doc_id": c.doc_id, **source(c.doc_id), "start": c.start, "end": c.end, "quote": c.quote}
            for c in answer.citations
        ],
        "hits": [
            {
                **source(h.chunk.doc_id),
                "start": h.chunk.start,
                "end": h.chunk.end,
                "score": round(h.score, 6),
            }
            for h in answer.hits
        ],
        "timings_ms": dict(answer.timings),
        "kind": answer.kind,
        "short": answer.short,
    }
