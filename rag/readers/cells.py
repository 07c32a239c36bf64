"""A table cell answered by its header: "Who manages the Riverside office?" over the row "Office: Riverside · Manager:
Tomasz Wójcik · Opened: 2015" is "Tomasz Wójcik", the value under the header the question asks about.

Every format with tables writes a row as "Header: value · Header: value" (`rag.tables`), so a row is one sentence
that keeps each cell beside its header. A question about one cell names the row by one of its values (the key:
"Riverside") and the column by its header, in the header's words or in others ("How many people work …" for
"Staff"). The answer is the cell, not the key, whose header

- shares words with the question ("manages" and "Manager", "Q3" and "Q3"), or else is the closest in meaning to it
  (the embedder's cosine between the question and the header), and
- holds a value of the type the question asks for: a number for "how many / how much", a date or year for "when",
  no bare number or date for "who / where".

A header is never an answer. A row whose headers fit nothing is declined by the extractive reader rather than
guessed at; the model readers then read the row as a sentence ("the fourth quarter" is the column "Q4"), and a
phrase the model copies from a header is refused like a NONE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from rag.questions import classify
from rag.readers.spans import _MONTH, _PATTERNS, question_type
from rag.tables import Cell, is_number, row_cells
from rag.text import content_terms


# A whole cell that is a date: "12 May 2009", "March", "3-6 March" (the month names of `rag.readers.spans`). Without it
# 6 of the 30 tune questions and 2 of the 20 confirm questions lose their date column (make eval-tables).
_DATE = re.compile(rf"(\d{{1,2}}(st|nd|rd|th)?[\s-]+)?(\d{{1,2}}[\s-]+)?{_MONTH}([\s-]+\d{{1,2}}(st|nd|rd|th)?)?(,?\s+\d{{2,4}})?")
# The question's answer type (`rag.readers.spans.question_type`) as the type of a cell's value.
_WANTED = {"number": "number", "year": "date", "date": "date", "name": "text"}

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class CellSettings:
    # A header sharing no word with the question is the answer only when its cosine to the question is at least this.
    min_similarity: float = 0.2
    # How much the cosine counts beside the share of the header's words the question holds (0..1).
    similarity_weight: float = 0.5
    # The rows looked at: the first this many ranked sentences.
    depth: int = 3


def value_type(value: str) -> str:
    """"date" (a date or a year), "number" or "text"."""
    value = value.strip()
    if _PATTERNS["year"].fullmatch(value) or _DATE.fullmatch(value):
        return "date"
    return "number" if is_number(value) else "text"


def wanted_type(question: str) -> str | None:
    """The type of value a question asks for: "number" (how many, how much), "date" (when, what year), "text" (who,
    where, which company) or None (any)."""
    return _WANTED.get(question_type(question))


def named_in(value: str, question: str) -> bool:
    """Whether the question names this cell's value (the row's key): its words as a whole phrase."""
    words = re.findall(r"\w+", value.lower())
    if not words or len(value.strip()) < 2:
        return False
    return re.search(r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)", question.lower()) is not None


def header_share(header: str, question_terms: set[str]) -> float:
    terms = set(content_terms(header)) or {header.lower()}
    return len(terms & question_terms) / len(terms)


def answer_cell(question: str, cells: Sequence[Cell], embed: Embed | None,
                settings: CellSettings = CellSettings()) -> tuple[Cell | None, float]:
    """The cell that answers `question` in a row it names, and how well its header fits (0..1 and more); (None, 0)
    when the row names nothing of the question or no header fits."""
    keys = [c for c in cells if named_in(c.value, question)]
    if not keys:
        return None, 0.0
    key_terms = {t for c in keys for t in content_terms(c.value)}
    terms = set(content_terms(question)) - key_terms
    wanted = wanted_type(question)
    candidates = [c for c in cells if c not in keys and (wanted is None or value_type(c.value) == wanted)]
    if not candidates:
        return None, 0.0
    shares = np.array([header_share(c.header, terms) for c in candidates])
    cosines = np.zeros(len(candidates))
    if embed is not None:
        vectors = embed([question] + [c.header for c in candidates])
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        cosines = vectors[1:] @ vectors[0]
    scores = shares + settings.similarity_weight * cosines
    best = int(np.argmax(scores))
    if shares[best] == 0 and cosines[best] < settings.min_similarity:
        return None, 0.0
    return candidates[best], float(scores[best])


def cell_reading(question: str, ranked: Sequence, lookup, embed: Embed | None,
                 settings: CellSettings = CellSettings()):
    """The Reading of a question about one cell of a table row among the first ranked sentences
    (`rag.readers.extractive.ScoredSentence`): the value under the header it asks about, cited at the row, its
    offsets the cell's own. None when no such row is named by the question (it is not about a cell: read as
    prose). A row named by the question whose headers fit nothing is declined, never guessed at."""
    from rag.readers import Reading, abstention
    from rag.types import Citation

    rows = []
    for position, sentence in enumerate(ranked[: settings.depth]):
        cells = row_cells(sentence.text)
        keys = [c for c in cells if named_in(c.value, question)] if cells else []
        if keys:
            rows.append((-len(keys), position, sentence, cells, keys))
    if not rows:
        return None
    *_, sentence, cells, keys = min(rows, key=lambda row: row[:2])
    key_terms = {t for c in keys for t in content_terms(c.value)}
    if not set(content_terms(question)) - key_terms and classify(question).kind == "description":
        return None  # "Who is Kwame Mensah?" asks about the row itself; "Where is the generator?" asks one cell
    cell, fit = answer_cell(question, cells, embed, settings)
    signals = {"table_cell": 1.0, "header_fit": round(fit, 4)}
    if cell is None:
        return abstention(0.0, {**signals, "no_header_fits": 1.0})
    document = lookup(sentence.candidate.doc_id)
    citation = Citation.from_document(document, sentence.candidate.start, sentence.candidate.end)
    start, end = sentence.candidate.start + cell.start, sentence.candidate.start + cell.end
    text = document.text[start:end]
    return Reading(text, (citation,), False, min(1.0, 0.5 + fit / 2), signals=signals, answer_span=(start, end),
                   short=text)
