"""What a document, or the whole index, is about: the overview kind of the auto reader (`rag.readers.auto`).

The document itself is read (its opening and its most central sentences by meaning), not the top chunks; over
several documents, one cited line for each.
"""

from __future__ import annotations

import re
from typing import Iterator

import numpy as np

from rag.questions import Question
from rag.readers import Reading, abstention
from rag.text import sentence_spans
from rag.types import Citation, Document

_PLURAL_OVERVIEW = re.compile(r"\b(documents|files|articles|reports|notes|everything|indexed|all)\b", re.I)


class Overviews:
    """Mixed into `AutoReader` (which gives `library`, `extractive` and `settings`)."""

    def _overview(self, asked: Question, hits, lookup) -> Iterator[tuple[str, object]]:
        documents = list(self.library.documents()) if self.library is not None else []
        if not documents:
            documents = [lookup(doc_id) for doc_id in dict.fromkeys(h.chunk.doc_id for h in hits)]
        if not documents:
            yield "answer", abstention()
            return
        several = len(documents) > 1 and _PLURAL_OVERVIEW.search(asked.text)
        if not several:
            top = hits[0].chunk.doc_id if hits else documents[0].doc_id
            document = next((d for d in documents if d.doc_id == top), documents[0])
            spans = self._central(document, self.settings.overview_sentences)
            citations = tuple(Citation.from_document(document, s, e) for s, e in spans)
            body = " ".join(f"{c.quote} [{n}]" for n, c in enumerate(citations, start=1))
            label = document.title or document.name
            yield "answer", Reading(f"{label}: {body}", citations, False, 1.0, signals={"documents": 1.0})
            return
        lines, citations = [], []
        for document in documents[: self.settings.overview_documents]:
            spans = self._central(document, 1)
            if not spans:
                continue
            citations.append(Citation.from_document(document, *spans[0]))
            lines.append(f"{document.title or document.name}: {citations[-1].quote} [{len(citations)}]")
        more = len(documents) - self.settings.overview_documents
        if more > 0:
            lines.append(f"… and {more} more documents (see the Documents list).")
        yield "answer", Reading("\n".join(lines), tuple(citations), False, 1.0,
                                signals={"documents": float(len(citations))})

    def _central(self, document: Document, count: int) -> list[tuple[int, int]]:
        """The opening sentence and the sentences closest to the document's centre of meaning, in reading order."""
        title = " ".join(document.title.split()).lower()
        spans = [(s, e) for s, e in sentence_spans(document.text)
                 if len(document.text[s:e].split()) >= 6 and " ".join(document.text[s:e].split()).lower() != title][:400]
        if not spans:
            return []
        texts = [document.text[s:e] for s, e in spans]
        vectors = self.extractive.sentence_vectors(texts)
        centre = vectors.mean(axis=0)
        scores = vectors @ (centre / (np.linalg.norm(centre) or 1.0))
        chosen = {0}
        for index in np.argsort(-scores):
            if len(chosen) >= count:
                break
            chosen.add(int(index))
        return [spans[i] for i in sorted(chosen)][:count]
