"""Error analysis: every miss classified, so the next improvement can be chosen from data.

An answerable question is missed when the answer's F1 is below 0.5. Its cause, first that applies:
`not_retrieved` (no passage given to the reader holds a gold answer), `declined` (the reader said the documents do
not say), `wrong_sentence` (the cited sentence holds no gold answer), `wrong_span` (the right sentence, the wrong
words from it). An unanswerable question answered anyway is `answered_unanswerable`.
"""

from __future__ import annotations

from typing import Sequence

from rag.evaluation import metrics

CATEGORIES = ("not_retrieved", "declined", "wrong_sentence", "wrong_span", "answered_unanswerable")
MISS_F1 = 0.5


def classify(row: dict, answerable: bool) -> str | None:
    """The row's error category, or None when the reader got it right."""
    if not answerable:
        return None if row["abstained"] else "answered_unanswerable"
    if row["scores"]["f1"] >= MISS_F1:
        return None
    if row.get("passages_hold_answer") is False:
        return "not_retrieved"
    if row["abstained"]:
        return "declined"
    if not row["scores"].get("citation_supported"):
        return "wrong_sentence"
    return "wrong_span"


def error_counts(rows: Sequence[dict], answerable: Sequence[bool]) -> dict[str, int]:
    """Counts per category; each row also gets its category under "error"."""
    counts = dict.fromkeys(CATEGORIES, 0)
    for row, is_answerable in zip(rows, answerable):
        row["error"] = classify(row, is_answerable)
        if row["error"]:
            counts[row["error"]] += 1
    return counts


def stated_anyway(row: dict) -> float:
    """F1 of an answer to a question whose passages were meant not to hold the answer, against the answers the
    question has (the row's `reference`); 0 when there are none or nothing was answered. At 0.5 or more the passages
    stated it after all (RGB's no-answer sets often do: "Barty" for the 2021 Wimbledon winner)."""
    if row["gold"] or not row.get("reference") or row.get("abstained") or not row.get("answer"):
        return 0.0
    return metrics.f1_score(row["answer"], row["reference"])


def answered_wrongly(row: dict) -> bool:
    """An answer shown to a person that is wrong: to an unanswerable question (unless it matches an answer the
    passages stated after all), or below F1 0.5 of a gold answer."""
    if row["abstained"]:
        return False
    if not row["gold"]:
        return stated_anyway(row) < MISS_F1
    return row["scores"]["f1"] < MISS_F1


def outcome_counts(rows: Sequence[dict]) -> dict[str, int]:
    """What a person saw: declined, answered wrongly, answered rightly."""
    declined = sum(bool(r["abstained"]) for r in rows)
    wrong = sum(answered_wrongly(r) for r in rows)
    counts = {"declined": declined, "answered_wrongly": wrong, "answered_rightly": len(rows) - declined - wrong}
    if any(r.get("reference") for r in rows):
        counts["stated_anyway"] = sum(stated_anyway(r) >= MISS_F1 for r in rows)
    return counts


def confident_wrong_markdown(rows: Sequence[dict], count: int = 10) -> list[str]:
    """The wrong answers the reader was surest of: where its confidence misleads most."""
    wrong = sorted((r for r in rows if answered_wrongly(r)), key=lambda r: -float(r.get("confidence") or 0.0))[:count]
    if not wrong:
        return []
    lines = ["", f"## The {len(wrong)} most confident wrong answers", ""]
    for row in wrong:
        quote = row["citations"][0]["quote"] if row.get("citations") else ""
        lines.append(f"- {float(row.get('confidence') or 0.0):.2f} **{row['question']}** gold: {row['gold'] or '(none)'}; "
                     f"answer: {row['answer']}" + (f"; cited: “{_short(quote)}”" if quote else ""))
    return lines


def examples_markdown(rows: Sequence[dict], per_category: int = 3) -> list[str]:
    lines = ["", "## Misses by cause", ""]
    for category in CATEGORIES:
        picked = [r for r in rows if r.get("error") == category][:per_category]
        total = sum(r.get("error") == category for r in rows)
        lines.append(f"### {category} ({total})")
        lines.append("")
        for row in picked:
            quote = row["citations"][0]["quote"] if row.get("citations") else ""
            lines.append(f"- **{row['question']}** gold: {row['gold'] or '(none)'}; answer: "
                         f"{row['answer'] or '(declined)'}" + (f"; cited: “{_short(quote)}”" if quote else ""))
        lines.append("")
    return lines


def _short(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def declining_curve(confidences: Sequence[float], unanswerable: Sequence[bool]) -> list[tuple[float, float, float]]:
    """(threshold, precision, recall) of declining below each threshold, unanswerable questions as the positives."""
    points = []
    for threshold in sorted(set(confidences)) + [float("inf")]:
        declined = [c < threshold for c in confidences]
        precision, recall = metrics.abstention_scores(declined, unanswerable)
        if any(declined):
            points.append((threshold, precision, recall))
    return points


def roc_auc(scores_positive: Sequence[float], scores_negative: Sequence[float]) -> float:
    """Probability that a positive outranks a negative (ties count half)."""
    if not scores_positive or not scores_negative:
        return 0.0
    wins = sum((p > n) + 0.5 * (p == n) for p in scores_positive for n in scores_negative)
    return wins / (len(scores_positive) * len(scores_negative))


def declined_with_answer(rows: Sequence[dict]) -> int:
    """Answers declined although a passage given to the reader holds a gold answer: over-declining."""
    return sum(bool(r.get("abstained")) and r.get("passages_hold_answer") is True for r in rows)


def contradicted_verdicts(rows: Sequence[dict]) -> int:
    """Yes/no answers whose quoted sentence, read alone, gives the other verdict (the reader records that sentence's
    P(Yes) as `quote_p_yes`); the goal is none."""
    count = 0
    for row in rows:
        signals = row.get("signals") or {}
        verdict = (row.get("short") or row.get("answer") or "").strip().lower()
        if row.get("abstained") or verdict not in ("yes", "no") or "quote_p_yes" not in signals:
            continue
        count += (signals["quote_p_yes"] >= 0.5) != (verdict == "yes")
    return count
