"""Readers turn retrieved passages into an answer with citations. Every reader returns a `Reading`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from rag.types import Citation, Document, Hit

DocumentLookup = Callable[[str], Document]
ABSTAIN_TEXT = "The documents do not say."


@dataclass(frozen=True)
class Reading:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    confidence: float
    partly_unsupported: bool = False


class Reader(Protocol):
    name: str

    def read(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading: ...


def abstention(confidence: float = 0.0) -> Reading:
    return Reading(ABSTAIN_TEXT, (), True, confidence)
