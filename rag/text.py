"""Small text helpers shared by readers and evaluation: sentence spans with offsets, content words."""

from __future__ import annotations

import re
from functools import lru_cache

# Tokens before a period that do not end a sentence ("Gen. Francis", "U.S. officials", "e.g. this").
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "col", "lt", "sgt", "capt", "gov", "sen", "rep", "st", "jr", "sr",
    "vs", "etc", "inc", "ltd", "co", "corp", "no", "vol", "fig", "al", "approx", "dept", "est", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "u.s", "u.k", "e.g", "i.e",
}
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9À-Þ])")
_WORD = re.compile(r"\w+", re.UNICODE)


# Characters looked at beyond a window's edges for the rest of a sentence it cuts (a chunk's first and last sentences,
# the sentence before a ranked one); a longer sentence is cut at a word.
SENTENCE_REACH = 600


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence [start, end) spans of text[start:end], in document offsets, trimmed of surrounding whitespace (and of
    a word the window's edge cuts)."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    # Paragraphs always end sentences; a single line break does only where the line looks finished, so that
    # hard-wrapped text ("...limited social\naid to...") keeps its sentences whole.
    for line_match in re.finditer(r"(?:[^\n]|\n(?=[^\n])(?<=[a-z,;\-]\n))+", text[start:end]):
        line_start = start + line_match.start()
        line = line_match.group()
        cursor = 0
        for match in _BOUNDARY.finditer(line):
            before = line[cursor : match.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            # "J. Smith" and known abbreviations are not sentence ends.
            if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
                continue
            spans.append((line_start + cursor, line_start + match.end()))
            cursor = match.end()
        spans.append((line_start + cursor, line_start + len(line)))
    trimmed = []
    for s, e in spans:
        # A window that begins or ends inside a word ("ween the 14th" of "between") leaves the cut word out.
        if s == start and 0 < s < len(text) and text[s - 1].isalnum() and text[s].isalnum():
            while s < e and not text[s].isspace():
                s += 1
        if e == end and 0 < e < len(text) and text[e - 1].isalnum() and text[e].isalnum():
            while e > s and not text[e - 1].isspace():
                e -= 1
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | {
        "did", "does", "do", "many", "much", "who", "whom", "whose", "what", "which", "when", "where", "why",
        "how", "according",
    }


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stop words (nor the "s" of "Kilauea's" or the "t" of "don't")."""
    stop = _stopwords()
    kept = [w for w in words(text) if w not in stop and w not in ("s", "t")]
    return _stemmer().stemWords(kept)
