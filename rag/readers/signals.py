"""Whether to answer: the signals a reader has, and one calibrated confidence made from them.

No single signal separates "the passages answer this" from "the passages are only about this": the cross-encoder's
score measures relevance, the model's NONE probability its own doubt. So each reader records named signals and a
logistic model, fitted on visible evaluation data by `rag calibrate` and shipped in calibration.json, turns them
into one probability that the answer is right. The reader declines below the threshold chosen with it.

One signal is a constraint check: the names, numbers and dates a question names ("in 2022", "Sweden",
"the Gulf Stream") should appear in the sentence that answers it, or at least in its document.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")

_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_QUOTED = re.compile(r"[\"“”‘’']([^\"“”‘’']{2,60})[\"“”‘’']")
_CAPITALISED = re.compile(r"\b[A-Z][\w\-’']*(?:\s+(?:of|the|de|la|von|van|del|and|for)?\s*[A-Z][\w\-’']*)*")
# Capitalised words that start questions or are common English, not constraints.
_NOT_NAMES = {
    "who", "what", "when", "where", "which", "why", "how", "whom", "whose", "is", "are", "was", "were", "do", "does",
    "did", "in", "on", "at", "the", "a", "an", "of", "for", "by", "to", "from", "and", "or", "according", "after",
    "before", "during", "can", "could", "has", "have", "had", "name", "i", "besides", "other", "than", "if", "as",
    "with", "about", "since", "until", "between", "among", "apart", "along", "into", "this", "that", "these", "those",
}


def _fold(text: str) -> str:
    """Lower case without accents, for matching 'Rodriguez' with 'Rodríguez'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1024)  # asked of the best sentence and of its document: parsed once
def constraints(question: str) -> tuple[str, ...]:
    """The names, numbers and quoted phrases a question names; each must hold in a passage that answers it."""
    found: list[str] = [m.group(1).strip() for m in _QUOTED.finditer(question)]
    found += [m.group().rstrip(".,") for m in _NUMBER.finditer(question)]
    for match in _CAPITALISED.finditer(question):
        words = [w for w in match.group().split() if w.lower() not in _NOT_NAMES]
        if words:
            found.append(" ".join(words))
    return tuple(dict.fromkeys(c for c in found if c))


def _present(constraint: str, folded_text: str) -> bool:
    # Every word of a multi-word name must appear; one-word names and numbers as whole words.
    words = re.findall(r"\w+", _fold(constraint))
    return all(re.search(rf"(?<!\w){re.escape(w)}", folded_text) for w in words) if words else True


def missing_share(question: str, text: str) -> float:
    """Share of the question's constraints absent from `text` (0 when the question names none)."""
    named = constraints(question)
    if not named:
        return 0.0
    folded = _fold(text)
    return sum(not _present(c, folded) for c in named) / len(named)


@dataclass(frozen=True)
class Calibration:
    """sigmoid(bias + sum(weight * signal)) is the probability that an answer is right; answer at >= threshold."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    means: tuple[float, ...] = ()  # signals are centred and scaled before weighting (as when fitted)
    scales: tuple[float, ...] = ()

    def confidence(self, signals: Mapping[str, float]) -> float:
        total = self.bias
        for position, (name, weight) in enumerate(zip(self.features, self.weights)):
            value = float(signals.get(name, 0.0))
            if self.means:
                value = (value - self.means[position]) / (self.scales[position] or 1.0)
            total += weight * value
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, total))))

    def as_dict(self) -> dict:
        return {"features": list(self.features), "weights": list(self.weights), "bias": self.bias,
                "threshold": self.threshold, "means": list(self.means), "scales": list(self.scales)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Calibration":
        return cls(tuple(data["features"]), tuple(float(w) for w in data["weights"]), float(data["bias"]),
                   float(data["threshold"]), tuple(float(m) for m in data.get("means", ())),
                   tuple(float(s) for s in data.get("scales", ())))


@lru_cache(maxsize=4)
def calibration(reader: str, path: Path = CALIBRATION_FILE) -> Calibration | None:
    """The shipped calibration of a reader ('extractive', 'llm'), or None when there is none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = data.get(reader)
    return Calibration.from_dict(entry) if entry else None
