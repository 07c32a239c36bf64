"""Questions about a document itself: who wrote it, when it is dated, what it is called; of a letter or a mail,
who it is addressed to and who signed or sent it.

The loaders find a document's title, author (byline) and date where the file has them and keep their spans in
`meta["fields"]` (see `rag.loaders.fields`); a question that asks for one of them about "the article",
"this document" and the like is answered with that span of the best retrieved document, cited like any other.
A letter's addressee and signer are read from its text when asked for: a mail's "To:" and "From:" lines, else the
salutation ("Dear Mr. Okafor,") and the name under the closing ("Yours sincerely,\nHelen Marsh"). A letter without a
byline was written by whoever signed it. A question about someone else's writing ("Who wrote the Declaration of
Independence?") is not one of these.
"""

from __future__ import annotations

import re
from typing import Sequence

from rag.readers import DocumentLookup, Reading
from rag.types import Citation, Hit

_THING = (r"(?:the|this|that)\s+(?:article|document|report|piece|story|text|paper|post|essay|memo|letter|page|file|"
          r"note|notes|news\s+story|news\s+article|blog\s+post|op-?ed|column|interview|press\s+release|mail|e-?mail|"
          r"message)")
_LETTER = (r"(?:the|this|that)\s+(?:letter|memo|note|mail|e-?mail|message)"
           r"(?:\s+(?:about|from|on|regarding|of|concerning)\s+[^?]{1,60}?)?")
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
    ("recipient", re.compile(
        rf"\b(?:who|whom)\s+(?:is|was)\s+{_LETTER}\s+(?:addressed|sent|written|directed)\s+to\b"
        rf"|\bto\s+whom\s+(?:is|was)\s+{_LETTER}\s+(?:addressed|sent|written|directed)"
        rf"|\bwho\s+(?:is|was)\s+the\s+(?:recipient|addressee)\s+of\s+{_LETTER}|\bwho\s+(?:received|got)\s+{_LETTER}",
        re.I)),
    ("signer", re.compile(
        rf"\bwho\s+(?:signed|sent)\s+{_LETTER}|\bwho\s+(?:is|was)\s+{_LETTER}\s+(?:from|signed\s+by|sent\s+by)\b"
        rf"|\bwho\s+(?:is|was)\s+the\s+(?:sender|signatory|signer)\s+of\s+{_LETTER}"
        rf"|\b{_LETTER}\s+(?:was\s+)?(?:signed|sent)\s+by\s+whom", re.I)),
    ("title", re.compile(
        rf"\bwhat\s+(?:is|was)\s+the\s+(?:title|headline|name)\s+of\s+{_THING}"
        rf"|\bwhat\s+(?:is|was)\s+{_THING}\s+(?:called|titled|named)|\b{_THING}'s\s+(?:title|headline)", re.I)),
]


def metadata_question(question: str) -> str | None:
    """'author', 'date', 'title', 'recipient' or 'signer' when the question asks for that field of the document
    itself."""
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
        if not span and (field in ("recipient", "signer") or field == "author" and re.search(_LETTER, question, re.I)):
            # A letter's ends are read when asked for; one without a byline was written by whoever signed it.
            span = letter_fields(document.text).get("signer" if field == "author" else field)
        if span:
            start, end = int(span[0]), int(span[1])
            citation = Citation.from_document(document, start, end)
            return Reading(citation.quote, (citation,), False, 1.0, signals={"metadata": 1.0}, answer_span=(start, end))
    return None


# A mail's own header lines (the mail loader writes them above the body).
_HEADER = re.compile(r"^(?P<key>From|To):[ \t]*(?P<value>\S[^\n]*?)[ \t]*$", re.M)
# "Dear Mr. Okafor," opening a line: the person the letter is addressed to.
_SALUTATION = re.compile(r"^[ \t]*Dear\s+(?P<value>[A-Z][^\n,:;!]{1,60}?)[ \t]*[,:;!]?[ \t]*$", re.M)
# A closing ("Yours sincerely," "Kind regards,") and the line under it that names who signed.
_CLOSING = re.compile(
    r"^[ \t]*(?:yours\s+(?:sincerely|faithfully|truly)|(?:very\s+)?(?:sincerely|truly|faithfully)(?:\s+yours)?|"
    r"(?:best|kind|warm|warmest)\s+(?:regards|wishes)|with\s+(?:best|kind)\s+regards|regards|respectfully|cordially)"
    r"[ \t]*,?[ \t]*\n(?:[ \t]*\n)?[ \t]*(?P<value>[A-Z][^\n]{1,80}?)[ \t]*$", re.M | re.I)
_LETTER_HEAD = 2000  # characters from the top where a mail's header lines or a salutation are looked for


def letter_fields(text: str) -> dict[str, list[int]]:
    """A letter's or mail's addressee ("recipient") and signer ("signer") as [start, end] spans of its text: the mail's
    "To:" / "From:" lines, else the salutation's name and the line under the last closing."""
    fields: dict[str, list[int]] = {}
    head = text[:_LETTER_HEAD]
    for match in _HEADER.finditer(head):
        key = "recipient" if match.group("key") == "To" else "signer"
        fields.setdefault(key, [match.start("value"), match.end("value")])
    salutation = _SALUTATION.search(head)
    if salutation and "recipient" not in fields:
        fields["recipient"] = [salutation.start("value"), salutation.end("value")]
    closings = list(_CLOSING.finditer(text))
    if closings and "signer" not in fields:
        fields["signer"] = [closings[-1].start("value"), closings[-1].end("value")]
    return fields
