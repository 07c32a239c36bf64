"""Questions about a document itself: who wrote it, when it is dated, what it is called.

The loaders find a document's title, author (byline) and date where the file has them and keep their spans in
`meta["fields"]` (see `rag.loaders.find_fields`); a question that asks for one of them about "the article",
"this document" and the like is answered with that span of the best retrieved document, cited like any other.
A question about someone else's writing ("Who wrote the Declaration of Independence?") is not one of these.
"""

from __future__ import annotations

import re
from typing import Sequence

from rag.readers import DocumentLookup, Reading
from rag.types import Citation, Hit

_THING = (r"(?:the|this|that)\s+(?:article|document|report|piece|story|text|paper|post|essay|memo|letter|page|file|"
          r"note|notes|news\s+story|news\s+article|blog\s+post|op-?ed|column|interview|press\s+release)")
_QUESTIONS: list[tuple[str, re.Pattern]] = [
    ("author", re.compile(
        rf"\bwho\s+(?:wrote|authored|penned|is\s+the\s+author\s+of|was\s+the\s+author\s+of|is\s+behind)\s+{_THING}"
        rf"|\b(?:author|writer|byline)\s+of\s+{_THING}|\b{_THING}\s+(?:was\s+)?written\s+by\s+whom"
        rf"|\bwho\s+(?:is|was)\s+the\s+(?:author|writer|reporter|journalist)\b(?!\s+of\s+(?!{_THING}))"
        rf"|\bwho\s+wrote\s+(?:it|this)\s*\?", re.I)),
    ("date", re.compile(
        rf"\bwhen\s+(?:was|is)\s+{_THING}\s+(?:written|published|posted|released|dated|issued|from)"
        rf"|\b(?:what|which)\s+(?:is\s+)?(?:the\s+)?(?:publication\s+)?date\s+(?:of|on|is\s+on)\s+{_THING}"
        rf"|\bwhat\s+date\s+(?:is|was)\s+{_THING}\b|\bwhen\s+was\s+(?:it|this)\s+(?:written|published)", re.I)),
    ("title", re.compile(
        rf"\bwhat\s+(?:is|was)\s+the\s+(?:title|headline|name)\s+of\s+{_THING}"
        rf"|\bwhat\s+(?:is|was)\s+{_THING}\s+(?:called|titled|named)|\b{_THING}'s\s+(?:title|headline)", re.I)),
]


def metadata_question(question: str) -> str | None:
    """'author', 'date' or 'title' when the question asks for that field of the document itself."""
    for field, pattern in _QUESTIONS:
        if pattern.search(question):
            return field
    return None


def metadata_reading(question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading | None:
    """The field's span in the best retrieved document that has it, or None (then the question is read as usual)."""
    field = metadata_question(question)
    if field is None:
        return None
    for hit in hits:
        document = lookup(hit.chunk.doc_id)
        span = (document.meta.get("fields") or {}).get(field)
        if span:
            start, end = int(span[0]), int(span[1])
            citation = Citation.from_document(document, start, end)
            return Reading(citation.quote, (citation,), False, 1.0, signals={"metadata": 1.0}, answer_span=(start, end))
    return None
