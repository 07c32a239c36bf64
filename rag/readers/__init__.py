"""Readers turn retrieved passages into an answer with citations. Every reader returns a `Reading`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Protocol, Sequence

from rag.types import Citation, Document, Hit

# Every reader a person can choose, once: its name, how the chat labels it, and whether it runs the local model.
# The CLI's --reader choices, the chat's radio, the OpenAI models (rag-NAME) and MCP's `reader` all read this.
READERS: dict[str, tuple[str, bool]] = {
    "auto": ("Automatic: shaped by the question (lists, yes/no, reasons, overviews)", True),
    "extractive": ("Extractive: fast, quotes the source", False),
    "llm": ("Local LLM: crisp answer", True),
    "llm-explain": ("Local LLM: short explanation", True),
    "qa-model": ("A question-answering model folder you give (--qa-model)", False),
}
CHAT_READERS: tuple[str, ...] = tuple(name for name in READERS if name != "qa-model")  # no model folder to give
MODEL_READERS: tuple[str, ...] = tuple(name for name, (_, model) in READERS.items() if model)

DocumentLookup = Callable[[str], Document]
ABSTAIN_TEXT = "The documents do not say."


@dataclass(frozen=True)
class Reading:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    confidence: float
    partly_unsupported: bool = False
    signals: Mapping[str, float] = field(default_factory=dict)  # what the confidence was computed from
    # Document offsets of a short answer inside the first citation (its own characters), when there is one.
    answer_span: tuple[int, int] | None = None
    short: str | None = None  # the crisp answer ("Yes", a name, a list of items) when the answer's shape has one
    kind: str | None = None  # the question's kind (rag.questions), when the reader decided it


class Reader(Protocol):
    """Every reader answers at once (`read`) or as it writes (`stream`); the assistant always streams."""

    name: str

    def read(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading: ...

    def stream(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Iterator[tuple[str, object]]:
        """("partial", text so far) while the answer is written, then ("answer", Reading)."""
        ...


class AnswersAtOnce:
    """`stream` for readers that write nothing before their answer."""

    def stream(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Iterator[tuple[str, object]]:
        yield "answer", self.read(question, hits, lookup)


class ReadsByStreaming:
    """`read` for readers that write as they go: the last event of `stream` is the answer."""

    def read(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading:
        reading = None
        for event, value in self.stream(question, hits, lookup):
            if event == "answer":
                reading = value
        return reading


def abstention(confidence: float = 0.0, signals: Mapping[str, float] | None = None) -> Reading:
    return Reading(ABSTAIN_TEXT, (), True, confidence, signals=dict(signals or {}))


def build_reader(name: str, assistant, overrides: dict):
    """The reader a registered name stands for, built over the assistant's embedder, cross-encoder and settings
    (`overrides` are the reader's own settings; rerank=False turns the whole second stage off, sentences too)."""
    from rag.errors import RagError

    settings = assistant.settings
    second_stage = overrides.pop("rerank", settings.retrieval.rerank)
    if name == "extractive":
        from rag.readers.extractive import ExtractiveReader

        return ExtractiveReader(assistant.embedder, reranker=assistant.reranker if second_stage else None, **overrides)
    if name == "qa-model":
        from rag.readers.qa_model import QAModelReader

        if not settings.qa_model:
            raise RagError("the qa-model reader needs a model", hint="pass --qa-model PATH")
        return QAModelReader(settings.qa_model)
    if name not in ("auto", "llm-explain", "llm"):
        raise RagError(f"unknown reader '{name}'", hint=f"choose one of {', '.join(READERS)}")
    from rag.readers.llm import LLMReader

    short = LLMReader(assistant.embedder, model=settings.llm_model,
                      extractive=assistant.reader("extractive", rerank=second_stage, **overrides), **overrides)
    if name == "llm" and not settings.explain:
        return short
    from rag.readers.auto import AutoReader

    return AutoReader(short, explain_only=name != "auto")  # "llm" with the explain setting is llm-explain
