"""Metrics, each small enough to check by hand (tests pin them on hand-computed cases).

EM/F1 follow the official SQuAD 2.0 script: lower-case, strip punctuation and the articles a/an/the, collapse
whitespace (punctuation here includes Unicode's, such as curly quotes and dashes, which the official script written
for ASCII-heavy Wikipedia text leaves in; accents are folded, as news passages write "Chloe Zhao" where the gold says
"Chloé Zhao", and a day's ordinal suffix is dropped, "21st July" being "21 July"); the maximum over gold answers; an
empty prediction is right exactly when there is no gold answer. A cited passage holds a gold answer that is a whole
date when it states that day in any wording (`contains_answer`).
nDCG@k and recall@k follow trec_eval (as BEIR uses it): graded gains from the qrels, log2 discounts, ideal DCG from
the judged documents; documents with relevance 0 count as non-relevant.
"""

from __future__ import annotations

import collections
import math
import re
import string
import unicodedata
from typing import Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_ORDINAL = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b")
_PUNCTUATION = set(string.punctuation)


def _is_punctuation(ch: str) -> bool:
    return ch in _PUNCTUATION or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str) -> str:
    # Accents only (the combining diacritical marks NFKD splits off Latin letters); other scripts' marks stay.
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text.lower()) if not "\u0300" <= ch <= "\u036f")
    text = "".join(ch for ch in text if not _is_punctuation(ch))
    text = _ARTICLES.sub(" ", text)
    text = _ORDINAL.sub(r"\1", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    if not golds:
        return float(normalize_answer(prediction) == "")
    return max(float(normalize_answer(prediction) == normalize_answer(g)) for g in golds)


def _f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: Sequence[str]) -> float:
    if not golds:
        return float(normalize_answer(prediction) == "")
    return max(_f1(prediction, g) for g in golds)


def contains_answer(text: str, golds: Sequence[str]) -> bool:
    """A passage 'contains' a gold answer when the normalised answer occurs in the normalised passage, or, for a
    gold answer that is a whole date (day, month and year), when the passage states that date in any wording
    ("November 21 of 1998" holds "Nov 21, 1998")."""
    normalised = f" {normalize_answer(text)} "
    if any(normalize_answer(g) and f" {normalize_answer(g)} " in normalised for g in golds):
        return True
    from rag.readers.spans import date_parts, dates_in

    whole = {parts for parts in map(date_parts, golds) if parts is not None and parts.given == 3}
    return bool(whole) and any(parts in whole for _, parts in dates_in(text))


def first_relevant_rank(relevant_flags: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    for rank, flag in enumerate(relevant_flags, start=1):
        if flag:
            return rank
    return None


def hit_at(relevant_flags: Sequence[bool], k: int) -> float:
    return float(any(relevant_flags[:k]))


def reciprocal_rank(relevant_flags: Sequence[bool], k: int | None = None) -> float:
    rank = first_relevant_rank(relevant_flags[:k] if k else relevant_flags)
    return 1.0 / rank if rank else 0.0


def ndcg_at(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """trec_eval's ndcg_cut.k for one query."""
    dcg = sum(qrels.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranking[:k], start=1) if qrels.get(doc, 0) > 0)
    ideal_gains = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal_gains, start=1))
    return dcg / idcg if idcg else 0.0


def recall_at(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:k])) / len(relevant)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def abstention_scores(abstained: Sequence[bool], unanswerable: Sequence[bool]) -> tuple[float, float]:
    """(precision, recall) of abstaining, with 'abstained' as the positive class against unanswerable gold."""
    true_positive = sum(a and u for a, u in zip(abstained, unanswerable))
    predicted = sum(abstained)
    actual = sum(unanswerable)
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / actual if actual else 0.0
    return precision, recall
