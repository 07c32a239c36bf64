"""Answer types: the short span inside a sentence that answers a who / when / how-many / where question.

The question's wording names the type of answer it wants (a person or name, a date, a number); the candidates of
that type in the chosen sentence that are not words of the question are ranked by how close they sit to the
question's words in the sentence. When no candidate exists the caller keeps the whole sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rag.quantities import MONTHS

AnswerType = Literal["number", "year", "date", "name"]

_MONTH = r"(?<![A-Za-z])(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sep\.?|Sept\.?|Oct\.?|Nov\.?|Dec\.?)(?![A-Za-z])"  # whole words: not the "Mar" of "Mario"
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|dozen|dozens|hundreds|thousands|millions)"
_SCALE = r"(?:hundred|thousand|million|billion|trillion)"
_PATTERNS: dict[str, re.Pattern] = {
    "date": re.compile(
        rf"(?:(?:early|mid|late)-?\s?)?(?:{_DAY},?\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+(?:of\s+)?\d{{4}})?|{_MONTH}(?:\s+\d{{4}})?|\d{{4}}s?)"
        rf"|\b{_DAY}\b|\b\d{{1,2}}(?:st|nd|rd|th)\s+century\b"
    ),
    "year": re.compile(r"\b(?:1\d{3}|20\d{2})s?\b"),
    "number": re.compile(
        rf"(?:[$€£¥]\s?)?\b\d[\d,.]*\+?(?:\s?%|\s+{_SCALE}|\s+per\s?cent)?"
        rf"|\b(?:an?\s+)?(?:{_NUMBER_WORD})(?:[\s-]+(?:{_NUMBER_WORD}))*\b",
        re.IGNORECASE,
    ),
    "name": re.compile(
        r"\b(?:[A-Z][\w’'\-]*\.?|[A-Z]{2,})(?:\s+(?:(?:de|da|del|van|von|der|al|bin|of|the|la|le|du|y)\s+)?(?:[A-Z][\w’'\-]*\.?|[A-Z]{2,}))*"
    ),
}

_QUESTION_TYPES: list[tuple[re.Pattern, AnswerType]] = [
    (re.compile(r"\bhow (many|much|long|old|far|big|large|tall|high)\b|\bwhat (percentage|percent|proportion|number|amount)\b", re.I), "number"),
    (re.compile(r"\b(what|which|in what|in which)\s+years?\b", re.I), "year"),
    (re.compile(r"\bwhen\b|\b(what|which|in what|on what)\s+(date|day|month|century|decade|time period|period)\b"
                r"|\bwhat(?:'s|\s+is|\s+was|\s+will\s+be)\s+the\s+(?:[\w-]+\s+){0,2}?date\b", re.I), "date"),
    (re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhere\b|\b(what|which)\s+(person|people|company|companies|organi[sz]ation|country|countries|city|cities|state|group|agency|newspaper|team|party|man|woman|king|president|leader|name)\b|\bwhat is the name\b|\bwhat was the name\b|\bnamed?\b", re.I), "name"),
]


_WANTS_UNIT = re.compile(r"\bhow (much|long|far|big|large|tall|high|old)\b", re.I)


@lru_cache(maxsize=1024)  # read by ranking, the short answer and the span: once per question
def question_type(question: str) -> AnswerType | None:
    for pattern, kind in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _question_words(question: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w+", question)}


_SENTENCE_START_NOISE = {"the", "a", "an", "this", "that", "these", "those", "it", "in", "on", "at", "as", "but", "and",
                         "so", "while", "after", "before", "despite", "according", "days", "today", "now", "having", "with"}


def best_typed_span(question: str, sentence: str, kind: AnswerType | None = None) -> Span | None:
    """The best candidate of the question's answer type inside `sentence` (offsets relative to it), or None."""
    kind = kind or question_type(question)
    if kind is None:
        return None
    asked = _question_words(question)
    candidates: list[tuple[int, int]] = []
    for match in _PATTERNS[kind].finditer(sentence):
        start, end = match.start(), match.end()
        text = sentence[start:end].rstrip(".,")
        end = start + len(text)
        words = [w.lower() for w in re.findall(r"\w+", text)]
        if not words:
            continue
        if kind == "name":
            # Drop a leading capitalised function word ("The", "In") and names made only of question words.
            while words and words[0] in _SENTENCE_START_NOISE:
                first = re.match(r"\W*\w+\W*", text)
                text = text[first.end():]
                start += first.end()
                words = words[1:]
            if not words or not text:
                continue
            possessive = re.search(r"[’']s$", text)
            if possessive:  # "Burgum’s arrival": the name is Burgum
                text = text[: possessive.start()]
                end = start + len(text)
                words = [w.lower() for w in re.findall(r"\w+", text)]
        if all(w in asked for w in words):
            continue
        candidates.append((start, end))
    if not candidates:
        return None
    anchors = [m.start() for m in re.finditer(r"\w+", sentence) if m.group().lower() in asked and len(m.group()) > 3]

    def rank(span: tuple[int, int]) -> float:
        distance = min(min(abs(a - span[0]), abs(a - span[1])) for a in anchors) if anchors else 0
        # Full names ("War Secretary Pete Hegseth") beat stray capitalised words ("US") a little closer by.
        words = len(re.findall(r"\w+(?:[’']\w+)*", sentence[span[0]:span[1]]))  # "O'Neill" is one word
        if kind == "name":
            return distance - 25 * min(words, 4)
        # A bare year is rarely the answer to "how many / how much".
        return distance + (60 if re.fullmatch(r"1\d{3}|20\d{2}", sentence[span[0]:span[1]]) else 0)

    start, end = min(candidates, key=rank)
    if kind == "number" and _WANTS_UNIT.search(question):
        unit = re.match(r"\s+(?:of\s+)?([a-z]+)", sentence[end:])
        if unit and unit.group(1) not in asked and unit.group(1) not in _SENTENCE_START_NOISE:
            end += unit.end()
    return Span(start, end)


@dataclass(frozen=True)
class DateParts:
    year: int | None
    month: int | None
    day: int | None

    @property
    def given(self) -> int:
        """How many of year, month and day the date states."""
        return sum(part is not None for part in (self.year, self.month, self.day))

    def agrees_and_adds(self, other: "DateParts") -> bool:
        """True when `other` gives every part this date gives, the same, and at least one more."""
        mine, theirs = (self.year, self.month, self.day), (other.year, other.month, other.day)
        return all(a is None or a == b for a, b in zip(mine, theirs)) and other.given > self.given


def date_parts(text: str) -> DateParts | None:
    """The year, month and day a date expression states (None for what it leaves out): "15th May" has no year,
    "May 2012" no day. None when it names neither a month nor a year."""
    month = re.search(_MONTH, text)
    year = re.search(r"\b(1\d{3}|20\d{2})\b", text)
    if month is None and year is None:
        return None
    day = None
    if month is not None:
        found = next((m for m in re.finditer(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", text)
                      if 1 <= int(m.group(1)) <= 31 and not (year and m.start() == year.start())), None)
        day = int(found.group(1)) if found else None
    return DateParts(int(year.group(1)) if year else None,
                     MONTHS[month.group()[:3].lower()] if month else None, day)


def dates_in(text: str) -> list[tuple[Span, DateParts]]:
    """Every date expression in `text` with the parts it states ("November 21 of 1998": 1998, 11, 21)."""
    found = []
    for match in _PATTERNS["date"].finditer(text):
        parts = date_parts(match.group())
        if parts is not None:
            found.append((Span(match.start(), match.end()), parts))
    return found


def fuller_date(answer: str, sentence: str, around: tuple[int, int] | None = None) -> Span | None:
    """The date in `sentence` that agrees with every part the date `answer` states and adds what it leaves out
    ("May 15, 2012" for "15th May"), the fullest first; with `around`, only a date that holds those offsets. None
    when there is none or `answer` is no date."""
    given = date_parts(answer)
    if given is None:
        return None
    fuller = [(-parts.given, span.start, span.end) for span, parts in dates_in(sentence)
              if (around is None or span.start <= around[0] <= around[1] <= span.end) and given.agrees_and_adds(parts)]
    if not fuller:
        return None
    _, start, end = min(fuller)
    return Span(start, end)
