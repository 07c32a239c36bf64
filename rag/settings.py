"""What an assistant is set up with (`Settings`) and the checks every way in applies to a question and to k."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

from rag.chunking import ChunkSettings
from rag.embedding import DEFAULT_BACKEND, Backend
from rag.errors import QuestionError, RagError
from rag.models import DEFAULT_EMBEDDER
from rag.paths import default_index_dir
from rag.readers import READERS as _REGISTERED
from rag.retrieval import RetrievalSettings

MAX_QUESTION_CHARS = 1000
MAX_K = 100
ReaderName = Literal["auto", "extractive", "llm", "llm-explain", "qa-model"]
READERS: tuple[str, ...] = tuple(_REGISTERED)  # ReaderName spells the same names for type checkers
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def check_k(k) -> int:
    """The number of passages asked for, checked wherever it comes in (CLI, chat, API)."""
    whole = isinstance(k, int) or (isinstance(k, float) and k.is_integer())  # 5.0 from a slider is 5; inf, nan are not
    if isinstance(k, bool) or not whole or not 1 <= k <= MAX_K:
        raise QuestionError(f"{k!r} passages cannot be retrieved", hint=f"ask for a whole number from 1 to {MAX_K}")
    return int(k)


@dataclass(frozen=True)
class Settings:
    index_dir: Path = field(default_factory=default_index_dir)
    store: str | None = None  # where the index lives (rag.stores): a folder, milvus:PATH.db or http://HOST:19530
    embedder: str = DEFAULT_EMBEDDER
    embedder_backend: Backend = DEFAULT_BACKEND  # for new indexes; an existing one keeps the backend that built it
    k: int = 5
    reader: ReaderName = "extractive"
    retrieval: RetrievalSettings = RetrievalSettings()
    chunking: ChunkSettings | None = None  # None: an existing index's own, ChunkSettings() for a new one
    llm_model: str | None = None
    qa_model: str | None = None
    explain: bool = False
    abstain: bool = True  # False: readers always answer, still recording their confidence (evaluating declining)

    @property
    def location(self) -> str:
        """The store location: `store` when given, else the index folder."""
        return self.store or str(self.index_dir)

    def __post_init__(self) -> None:
        if self.reader not in READERS:
            raise RagError(f"unknown reader '{self.reader}'", hint=f"choose one of {', '.join(READERS)}")
        check_k(self.k)


def location_settings(location: str | Path) -> dict:
    """Settings values for an index location: a folder is `index_dir`, a Milvus location is `store`."""
    from rag.stores import StoreLocation

    where = StoreLocation(location)
    if where.kind == "folder":
        return {"index_dir": Path(where.target), "store": None}
    return {"store": str(location).strip()}


def clean_question(question: str) -> str:
    """The question as it will be asked, or a QuestionError that says what to fix."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text", hint="type a question")
    text = " ".join(_CONTROL.sub(" ", question).split())
    if not text:
        raise QuestionError("the question is empty", hint="type a question, e.g. 'Who announced the deal?'")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(text):,} characters long, over the limit of {MAX_QUESTION_CHARS:,}",
            hint="ask a shorter question; put long text in a document and index it",
        )
    if not re.search(r"\w", text):
        raise QuestionError("the question has no words, only punctuation or symbols", hint="type a question in words")
    return text


def retrieval_query(question: str, history: Sequence[str]) -> str:
    """A follow-up like 'And when did he say it?' is searched together with the previous question."""
    from rag.text import content_terms

    if history and len(content_terms(question)) <= 3:
        return f"{history[-1]} {question}"
    return question
