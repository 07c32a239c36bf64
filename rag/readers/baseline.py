"""The textbook chain every answer table is measured against: the classic "stuff" prompt (LangChain's original
question-answering prompt) over the top passages, answered by the same local model. Evaluation only: its free text
is not checked against the sources, which is why the product does not show answers made this way."""

from __future__ import annotations

from typing import Sequence

from rag.readers import AnswersAtOnce, DocumentLookup, Reading
from rag.types import Citation, Hit

STUFF_PROMPT = (
    "Use the following pieces of context to answer the question at the end. If you don't know the answer, just say "
    "that you don't know, don't try to make up an answer.\n\n{context}\n\nQuestion: {question}\nHelpful Answer:"
)


class StuffReader(AnswersAtOnce):
    name = "stuff"

    def __init__(self, llm, *, passages: int = 4, max_tokens: int = 64):
        self.llm = llm
        self.passages = passages
        self.max_tokens = max_tokens

    def read(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading:
        chosen = list(hits[: self.passages])
        context = "\n\n".join(h.chunk.text for h in chosen)
        messages = [{"role": "user", "content": STUFF_PROMPT.format(context=context, question=question)}]
        text = self.llm.complete(messages, max_tokens=self.max_tokens).text.strip()
        declined = "don't know" in text.lower() or "do not know" in text.lower()
        citations = tuple(Citation.from_document(lookup(h.chunk.doc_id), h.chunk.start, h.chunk.end) for h in chosen)
        return Reading(text, citations, declined, 0.0 if declined else 1.0)
