"""Dates and amounts read from a copied phrase, so two named things can be compared by their values in code: a small
model copies a year reliably but weighs two years against each other poorly."""

from __future__ import annotations

import re

MONTHS = {m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), start=1)}
_YEAR = re.compile(r"(?<![\d,.])\b(\d{1,4})(\s*(BC|BCE)\b)?(?![,.]?\d)", re.I)
_MONTH = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\b", re.I)
_DAY = re.compile(r"\b([0-3]?\d)(st|nd|rd|th)?\b")
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(thousand|million|billion|trillion|k\b|m\b|bn\b)?",
                     re.I)
_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "trillion": 1e12}

# Comparative words of a question: +1 when the larger value wins, -1 when the smaller one does. Temporal ones
# compare dates (older = the earlier date), the others amounts.
_TEMPORAL = {"older": -1, "oldest": -1, "earlier": -1, "earliest": -1, "first": -1, "before": -1, "sooner": -1,
             "younger": 1, "youngest": 1, "later": 1, "latest": 1, "last": 1, "newer": 1, "newest": 1, "after": 1,
             "recently": 1, "recent": 1}
_AMOUNT = {"more": 1, "most": 1, "larger": 1, "largest": 1, "bigger": 1, "biggest": 1, "higher": 1, "highest": 1,
           "longer": 1, "longest": 1, "taller": 1, "tallest": 1, "greater": 1, "greatest": 1, "heavier": 1,
           "less": -1, "least": -1, "fewer": -1, "fewest": -1, "smaller": -1, "smallest": -1, "lower": -1,
           "lowest": -1, "shorter": -1, "shortest": -1, "lighter": -1}


def comparative(question: str) -> tuple[int, bool] | None:
    """(direction, temporal) of the comparative word in `question`, or None when it has none. A temporal word wins
    ("more recently" compares dates)."""
    words = re.findall(r"[a-z]+", question.lower())
    for table, temporal in ((_TEMPORAL, True), (_AMOUNT, False)):
        for word in words:
            if word in table:
                return table[word], temporal
    return None


def date_key(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) of the first date in `text` (month and day 0 when not given; BC years negative)."""
    year = next((y for y in _YEAR.finditer(text) if y.group(3) or 100 <= int(y.group(1)) <= 2100), None)
    if year is None:
        return None
    value = -int(year.group(1)) if year.group(3) else int(year.group(1))
    near = text[max(0, year.start() - 20): year.end() + 20]
    month = _MONTH.search(near)
    day = next((int(d.group(1)) for d in _DAY.finditer(near) if d.group(1) != year.group(1) and 1 <= int(d.group(1)) <= 31), 0)
    return value, MONTHS[month.group(1).lower()] if month else 0, day if month else 0


def amount(text: str) -> float | None:
    """The first number in `text`, scaled by a following "million", "bn" and the like."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    value = float(match.group(1).replace(",", "") + (match.group(2) or ""))
    return value * _SCALE.get((match.group(3) or "").lower(), 1.0)
