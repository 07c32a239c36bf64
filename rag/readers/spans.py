"""Answer types: the short span inside a sentence that answers a who / when / how-many / where question.

The question's wording names the type of answer it wants (a person or name, a date, a number); the candidates of
that type in the chosen sentence that are not words of the question are ranked by how close they sit to the
question's words in the sentence. When no candidate exists the caller keeps the whole sentence.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

AnswerType = Literal["number", "date", "name"]

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sep\.?|Sept\.?|Oct\.?|Nov\.?|Dec\.?)"
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|dozen|dozens|hundreds|thousands|millions)"
_SCALE = r"(?:hundred|thousand|million|billion|trillion)"
_PATTERNS: dict[str, re.Pattern] = {
    "date": re.compile(
        rf"(?:(?:early|mid|late)-?\s?)?(?:{_DAY},?\s+)?(?:\d{{1,2}}\s+{_MONTH}(?:,?\s+\d{{4}})?|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|{_MONTH}(?:\s+\d{{4}})?|\d{{4}}s?)"
        rf"|\b{_DAY}\b|\b\d{{1,2}}(?:st|nd|rd|th)\s+century\b"
    ),
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
    (re.compile(r"\bwhen\b|\b(what|which|in what|on what)\s+(year|years|date|day|month|century|decade|time period|period)\b", re.I), "date"),
    (re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhere\b|\b(what|which)\s+(person|people|company|companies|organi[sz]ation|country|countries|city|cities|state|group|agency|newspaper|team|party|man|woman|king|president|leader|name)\b|\bwhat is the name\b|\bwhat was the name\b|\bnamed?\b", re.I), "name"),
]


_WANTS_UNIT = re.compile(r"\bhow (much|long|far|big|large|tall|high|old)\b", re.I)


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
        if all(w in asked for w in words):
            continue
        candidates.append((start, end))
    if not candidates:
        return None
    anchors = [m.start() for m in re.finditer(r"\w+", sentence) if m.group().lower() in asked and len(m.group()) > 3]

    def rank(span: tuple[int, int]) -> float:
        distance = min(min(abs(a - span[0]), abs(a - span[1])) for a in anchors) if anchors else 0
        # Full names ("War Secretary Pete Hegseth") beat stray capitalised words ("US") a little closer by.
        words = len(re.findall(r"\w+", sentence[span[0]:span[1]]))
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


# ----- a learned choice of the short answer inside a sentence -------------------------------------------------------

_TOKEN = re.compile(r"[\w’'\-]+(?:[.,]\d+)*|[^\w\s]")
_WH = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how many", "how much", "how")
MAX_SPAN_WORDS = 6


def _wh(question: str) -> str:
    lowered = question.lower()
    found = [(lowered.find(w), w) for w in _WH if re.search(rf"\b{w}\b", lowered)]
    return min(found)[1] if found else "other"


def _question_stems(question: str) -> set[str]:
    from rag.text import content_terms

    return set(content_terms(question))


def span_candidates(question: str, sentence: str) -> list[tuple[int, int]]:
    """Runs of one to six words of the sentence that are not the question's own words, never starting or ending on
    a stop word or a sign; the short answer is one of them for nearly every question whose sentence holds it."""
    from rag.text import _stemmer, _stopwords

    stop, stems = _stopwords(), _question_stems(question)
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(sentence)]

    def is_word(text: str) -> bool:
        return bool(re.match(r"[\w’'\-]", text))

    def asked(text: str) -> bool:
        lowered = text.lower()
        return lowered not in stop and _stemmer().stemWord(lowered) in stems

    found: list[tuple[int, int]] = []
    for i, (start, _, text) in enumerate(tokens):
        if not is_word(text) or asked(text) or (text.lower() in stop and not text[0].isdigit()):
            continue
        words = 0
        for j in range(i, len(tokens)):
            token = tokens[j][2]
            if not is_word(token) or asked(token):
                break
            words += 1
            if words > MAX_SPAN_WORDS:
                break
            if token.lower() not in stop:
                found.append((start, tokens[j][1]))
    return found


SPAN_FEATURES = (
    "words", "inverse_words", "distance", "after_anchor", "before_anchor", "capitalised", "starts_capital", "digit",
    "typed_whole", "typed_part", "edge_left", "edge_right", "stop_inside", "position",
) + tuple(f"{wh}:{f}" for wh in _WH + ("other",) for f in ("bias", "capitalised", "digit", "words"))


def span_features(question: str, sentence: str, spans: list[tuple[int, int]]) -> list[dict[str, float]]:
    """What the span model weighs for each candidate: its size, where it sits against the question's words in the
    sentence, what it looks like (names, numbers), whether it is the type the question asks for, and the question's
    wh-word crossed with those."""
    from rag.text import _stemmer, _stopwords

    stop, stems = _stopwords(), _question_stems(question)
    anchors = [m.start() for m in re.finditer(r"\w+", sentence)
               if m.group().lower() not in stop and _stemmer().stemWord(m.group().lower()) in stems]
    kind = question_type(question)
    typed = [(m.start(), m.end()) for m in _PATTERNS[kind].finditer(sentence)] if kind else []
    wh = _wh(question)
    rows = []
    for start, end in spans:
        text = sentence[start:end]
        words = re.findall(r"[\w’'\-]+", text)
        before = [start - a for a in anchors if a < start]
        after = [a - end for a in anchors if a >= end]
        distance = min(before + after, default=0 if anchors else 60)
        capitalised = sum(w[0].isupper() for w in words) / max(1, len(words))
        digit = float(bool(re.search(r"\d", text)))
        left, right = sentence[:start].rstrip(), sentence[end:].lstrip()
        row = {
            "words": float(len(words)), "inverse_words": 1.0 / max(1, len(words)),
            "distance": math.log1p(max(0, distance)),
            "after_anchor": float(bool(before) and min(before) < 25), "before_anchor": float(bool(after) and min(after) < 25),
            "capitalised": capitalised, "starts_capital": float(bool(words) and words[0][0].isupper() and start > 0),
            "digit": digit,
            "typed_whole": float(any(s <= start and end <= e for s, e in typed)),
            "typed_part": float(any(s < end and start < e for s, e in typed)),
            "edge_left": float(not left or left[-1] in ",;:(\"“—-"), "edge_right": float(not right or right[0] in ",;:.)\"”—-"),
            "stop_inside": float(any(w.lower() in stop for w in words[1:-1])),
            "position": start / max(1, len(sentence)),
        }
        for name in _WH + ("other",):
            on = float(name == wh)
            row.update({f"{name}:bias": on, f"{name}:capitalised": on * capitalised, f"{name}:digit": on * digit,
                        f"{name}:words": on * len(words)})
        rows.append(row)
    return rows


@lru_cache(maxsize=2)
def span_model(path: Path = Path(__file__).with_name("span_model.json")) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def best_span(question: str, sentence: str) -> Span | None:
    """The short answer inside `sentence`: the learned model's best candidate where a model is shipped and its
    score clears the model's bar; else the typed span of who / when / how-many questions; else None."""
    model = span_model()
    if model is not None:
        spans = span_candidates(question, sentence)
        if spans:
            rows = span_features(question, sentence, spans)
            weights = model["weights"]
            scores = [model["bias"] + sum(weights.get(k, 0.0) * (v - model["means"].get(k, 0.0)) / model["scales"].get(k, 1.0)
                                          for k, v in row.items()) for row in rows]
            best = max(range(len(spans)), key=lambda i: scores[i])
            if scores[best] >= model["threshold"]:
                return Span(*spans[best])
    return best_typed_span(question, sentence)
