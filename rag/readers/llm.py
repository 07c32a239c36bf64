"""The `llm` reader: a local model picks the answer; the source's own characters are what is shown and cited.

Short answers: the best sentences of the retrieved passages (scored as the extractive reader scores them) are
numbered in a small prompt; the model copies the shortest phrase that answers, or says NONE. The phrase is aligned
to exact offsets in its sentence (exact, then case- and whitespace-insensitive, then fuzzy above a threshold); if it
cannot be aligned, the extractive reader's answer is used. Explained answers (a setting): one to three sentences
with [n] markers; markers that point at no given passage are dropped and the answer is marked partly unsupported.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from rag.embedding import EmbedderLike
from rag.readers import DocumentLookup, Reading, abstention
from rag.readers.extractive import Candidate, ExtractiveReader
from rag.types import Citation, Hit

SHORT_SYSTEM = (
    "You answer questions using only the numbered passages. Copy the shortest exact phrase from one passage that "
    "answers the question and reply in the form: [n] phrase. If no passage answers the question, reply: NONE"
)
SHORT_EXAMPLES = [
    ("Passages:\n[1] The bridge opened to traffic in 1932 after six years of work.\n[2] It carries eight lanes.\n\n"
     "Question: When did the bridge open?", "[1] 1932"),
    ("Passages:\n[1] The bridge opened to traffic in 1932 after six years of work.\n\n"
     "Question: Who painted the bridge's first mural?", "NONE"),
]
EXPLAIN_SYSTEM = (
    "You answer questions using only the numbered passages. Write one to three short sentences. End each sentence "
    "with the number of the passage that supports it, like [1]. If the passages do not answer the question, reply: NONE"
)
_ANSWER = re.compile(r"^\s*\[(\d+)\]\s*(.+?)\s*$", re.S)
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class LLMSettings:
    passages: int = 1  # best sentences in a short-answer prompt: 1 measured best for citation support and speed
    explain_passages: int = 3  # an explanation may draw on several sentences
    fuzzy_threshold: float = 0.85
    abstain_below: float = 0.2  # extractive confidence under which the answer is declined whatever the model says
    trust_extractive_above: float = 0.55  # a NONE from the model is overruled above this extractive confidence
    max_tokens_short: int = 24
    max_tokens_explain: int = 160


def align(phrase: str, text: str, threshold: float = 0.85) -> tuple[int, int] | None:
    """Offsets of `phrase` in `text`: exact, then case/whitespace-insensitive, then the best fuzzy window."""
    phrase = phrase.strip().strip("\"'“”‘’").rstrip(".")
    if not phrase:
        return None
    at = text.find(phrase)
    if at >= 0:
        return at, at + len(phrase)
    words = phrase.split()
    loose = re.compile(r"\s+".join(re.escape(w) for w in words), re.I)
    match = loose.search(text)
    if match:
        return match.start(), match.end()
    starts = [0] + [m.end() for m in re.finditer(r"\s+", text)]
    ends = [m.start() for m in re.finditer(r"\s+", text)] + [len(text)]
    best, best_ratio = None, threshold
    target = phrase.lower()
    for s in starts:
        for e in ends:
            if e <= s or abs((e - s) - len(phrase)) > max(3, len(phrase) // 4):
                continue
            ratio = difflib.SequenceMatcher(None, target, text[s:e].lower()).ratio()
            if ratio >= best_ratio:
                best, best_ratio = (s, e), ratio
    return best


class LLMReader:
    name = "llm"

    def __init__(self, embedder: EmbedderLike, *, model: str | None = None, llm=None, explain: bool = False,
                 settings: LLMSettings = LLMSettings(), extractive: ExtractiveReader | None = None):
        self.embedder = embedder
        self.model = model
        self._llm = llm
        self.explain = explain
        self.settings = settings
        # Scores sentences and answers when the model's phrase is not in the source; shared to reuse its cache.
        self.extractive = extractive or ExtractiveReader(embedder)

    @property
    def llm(self):
        if self._llm is None:
            from rag.assistant import cache_dir
            from rag.llm import resolve_gguf, shared_llm

            self._llm = shared_llm(resolve_gguf(self.model, cache_dir()))
        return self._llm

    def _best_sentences(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup, count: int):
        candidates = self.extractive.candidates(hits, lookup)
        if not candidates:
            return [], [], 0.0
        texts = [lookup(c.doc_id).text[c.start : c.end] for c in candidates]
        scores = self.extractive.score(question, texts, [c.rank for c in candidates])
        order = list(np.argsort(-scores))[:count]
        return [candidates[i] for i in order], [texts[i] for i in order], float(scores[order[0]])

    @staticmethod
    def _prompt(question: str, texts: list[str]) -> str:
        numbered = "\n".join(f"[{n}] {' '.join(t.split())}" for n, t in enumerate(texts, start=1))
        return f"Passages:\n{numbered}\n\nQuestion: {question}"

    def read(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading:
        reading = None
        for event, value in self.stream(question, hits, lookup):
            if event == "answer":
                reading = value
        return reading

    def stream(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Iterator[tuple[str, object]]:
        count = self.settings.explain_passages if self.explain else self.settings.passages
        chosen, texts, confidence = self._best_sentences(question, hits, lookup, count)
        if not chosen or confidence < self.settings.abstain_below:
            yield "answer", abstention(confidence)
            return
        if self.explain:
            yield from self._explain(question, chosen, texts, confidence, lookup)
            return
        messages = [{"role": "system", "content": SHORT_SYSTEM}]
        for user, assistant in SHORT_EXAMPLES:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        messages.append({"role": "user", "content": self._prompt(question, texts)})
        reply = self.llm.text(messages, max_tokens=self.settings.max_tokens_short).strip()
        yield "answer", self._short_reading(question, reply, chosen, texts, confidence, hits, lookup)

    def _short_reading(self, question, reply, chosen: list[Candidate], texts, confidence, hits, lookup) -> Reading:
        if reply.upper().startswith("NONE") or not reply:
            if confidence >= self.settings.trust_extractive_above:
                return self.extractive.read(question, hits, lookup)
            return abstention(confidence)
        match = _ANSWER.match(reply)
        number, phrase = (int(match.group(1)), match.group(2)) if match else (1, reply)
        order = list(range(len(chosen)))
        if 1 <= number <= len(chosen):
            order.remove(number - 1)
            order.insert(0, number - 1)
        for i in order:
            span = align(phrase.splitlines()[0], texts[i], self.settings.fuzzy_threshold)
            if span is None:
                continue
            candidate = chosen[i]
            document = lookup(candidate.doc_id)
            citation = Citation.from_document(document, candidate.start, candidate.end)
            answer = document.text[candidate.start + span[0] : candidate.start + span[1]]
            return Reading(answer, (citation,), False, confidence)
        # The model's words are not in the passages: never show them; fall back to the extractive span.
        return self.extractive.read(question, hits, lookup)

    def _explain(self, question, chosen, texts, confidence, lookup) -> Iterator[tuple[str, object]]:
        messages = [{"role": "system", "content": EXPLAIN_SYSTEM}, {"role": "user", "content": self._prompt(question, texts)}]
        written = ""
        for piece in self.llm.stream(messages, max_tokens=self.settings.max_tokens_explain):
            written += piece
            yield "partial", written
        written = written.strip()
        if not written or written.upper().startswith("NONE"):
            yield "answer", abstention(confidence)
            return
        cited: dict[int, int] = {}  # passage number -> citation number
        unsupported = False

        def renumber(match: re.Match) -> str:
            nonlocal unsupported
            number = int(match.group(1))
            if not 1 <= number <= len(chosen):
                unsupported = True
                return ""
            cited.setdefault(number, len(cited) + 1)
            return f"[{cited[number]}]"

        text = re.sub(r"\s+(?=[.,;])", "", _MARKER.sub(renumber, written)).strip()
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
        if any(not _MARKER.search(s) for s in sentences):
            unsupported = True
        citations = tuple(
            Citation.from_document(lookup(chosen[n - 1].doc_id), chosen[n - 1].start, chosen[n - 1].end)
            for n, _ in sorted(cited.items(), key=lambda item: item[1])
        )
        if not citations:
            yield "answer", abstention(confidence)
            return
        yield "answer", Reading(text, citations, False, confidence, partly_unsupported=unsupported)
