"""The `llm` reader: a local model picks the answer; the source's own characters are what is shown and cited.

Short answers: the sentences of the retrieved passages are ranked as the extractive reader ranks them (by the
cross-encoder when there is one). The model reads the best sentence alone and copies the shortest phrase that
answers, or says NONE; when it says NONE and the second sentence scored close to the first, it reads that one too
(one sentence at a time measured better than several at once, and the second catches answers the ranking put just
below the top). Each answer is checked by the support judge (does the sentence state that this answers exactly this
question?); an answer it doubts sends the reader on to the next sentence as a NONE does, and the answer it is surest
of is kept: the best-ranked sentence is often about a neighbouring thing (another quarter's revenue, a stage winner
for the race's) while the answer sits just below it. The phrase is aligned to exact offsets in its sentence (exact,
then case- and whitespace-insensitive, then fuzzy above a threshold); words that are not in the source are never
shown. A "when" answer that leaves out the year or the day ("November 17") is completed from a date that agrees
with it, in its own sentence or in a well-ranked one the judge confirms; a bare year copied out of a date ("2020" of
"in June 2020") is shown as that whole date. Whether to answer is one calibrated confidence over the ranking's
signals and the model's own (its NONE probability, the log-probability of its answer, the judge's check):
`rag.readers.signals`.

Explained answers (`llm-explain`) are the auto reader's explanation shape (`rag.readers.auto`): every sentence the
model writes is checked by the support judge against the span it cites, and dropped when unsupported.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

from rag.embedding import EmbedderLike
from rag.readers import DocumentLookup, Reading, ReadsByStreaming, abstention
from rag.readers.extractive import ExtractiveReader, ScoredSentence, completed_date, dated_citation
from rag.readers.metadata import metadata_reading
from rag.readers.signals import Calibration, calibration
from rag.readers.support import SupportJudge, in_context
from rag.tables import in_header
from rag.types import Hit

SHORT_SYSTEM = (
    "You answer a question from one passage. Reply with the shortest phrase copied exactly from the passage that "
    "answers the question, and nothing else. If the passage does not answer the question, reply: NONE"
)
SHORT_EXAMPLES = [
    ("Passage: The bridge opened to traffic in 1932 after six years of work.\nQuestion: When did the bridge open?",
     "1932"),
    ("Passage: The bridge opened to traffic in 1932 after six years of work.\nQuestion: Who painted the bridge's "
     "first mural?", "NONE"),
    ("Passage: Marta Ruiz, keeper of the lighthouse since 1990, lit the lamp every night.\nQuestion: Who looked "
     "after the lighthouse?", "Marta Ruiz"),
]
_NONE = "NONE"


@dataclass(frozen=True)
class LLMSettings:
    # A NONE (or a phrase not in the sentence) sends the next sentence to the model, up to `max_sentences`, while
    # its cross-encoder logit is within `next_sentence_margin` of the best one.
    max_sentences: int = 3
    next_sentence_margin: float = 4.0
    # An answer the support judge doubts (P(Yes) below this) also sends the next sentence to the model; the answer
    # the judge is surest of is kept (0 reads on only after a NONE). 0.7 scored best of 0.5 and 0.7 on the tune halves.
    read_on_below: float = 0.7
    # A date answer that leaves out its year or day ("November 17") is completed from a date that agrees with it:
    # in its own sentence, else in one of the first `date_depth` sentences when the judge gives that sentence's
    # fuller date at least `date_min_support` (at most `date_checks` checks) and that names at least
    # `date_min_overlap` of the question's content words (a dateline alone, "May 15, 2022 ...", is about anything).
    date_depth: int = 10
    date_min_support: float = 0.5
    date_min_overlap: float = 0.5
    date_checks: int = 2
    fuzzy_threshold: float = 85.0  # rapidfuzz similarity (0-100) for a phrase the model copied imperfectly
    max_tokens_short: int = 24
    top_logprobs: int = 5


def align(phrase: str, text: str, threshold: float = 85.0) -> tuple[int, int] | None:
    """Offsets of `phrase` in `text`: exact, then case/whitespace-insensitive, then the best fuzzy alignment."""
    phrase = phrase.strip().strip("\"'“”‘’").rstrip(".")
    if not phrase:
        return None
    at = text.find(phrase)
    loose = re.compile(r"\s+".join(re.escape(w) for w in phrase.split()), re.I)
    match = loose.search(text) if at < 0 else None
    if at >= 0:
        start, end = at, at + len(phrase)
    elif match:
        start, end = match.start(), match.end()
    else:
        from rapidfuzz import fuzz

        found = fuzz.partial_ratio_alignment(phrase.lower(), text.lower(), score_cutoff=threshold)
        if found is None or found.dest_end <= found.dest_start:
            return None
        start, end = found.dest_start, found.dest_end
    # Snap to whole words, so an answer never shows half a word ("Mar" of "Marta"), and leave out the spaces around it.
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    # A bare number takes its unit along ("43" of "43 metres", "500" of "$500 million"): the number alone misleads.
    if re.fullmatch(r"[\d.,]+", text[start:end]):
        unit = _UNIT.match(text, end)
        end = unit.end() if unit else end
    start, end = closed_quotes(text, start, end)
    return (start, end) if start < end else None


_QUOTE_PAIRS = (("“", "”"), ("«", "»"))
_QUOTE_REACH = 60  # characters searched for the other half of a quotation, within the sentence


def closed_quotes(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets widened so that a quotation opened inside the answer also closes inside it ("charges of
    “narco-terrorism.”", not "charges of “narco-terrorism"), and one closed inside it also opens there. A quote mark
    whose other half is not nearby (in `_QUOTE_REACH` characters, on the same line) is left out when it is at the
    answer's edge."""
    for opening, closing in _QUOTE_PAIRS + (('"', '"'),):
        inside = text[start:end]
        if opening == closing:  # a straight quote opens or closes by how many came before it
            if inside.count(opening) % 2 == 0:
                continue
            opens = text[:start].count(opening) % 2 == 0
        elif inside.count(opening) != inside.count(closing):
            opens = inside.count(opening) > inside.count(closing)
        else:
            continue
        if opens:
            other = text.find(closing, end, end + _QUOTE_REACH)
            if other >= 0 and "\n" not in text[end:other]:
                end = other + 1
            elif inside.startswith(opening):
                start += 1
            elif inside.endswith(opening):
                end -= 1
        else:
            other = text.rfind(opening, max(0, start - _QUOTE_REACH), start)
            if other >= 0 and "\n" not in text[other:start]:
                start = other
            elif inside.endswith(closing):
                end -= 1
            elif inside.startswith(closing):
                start += 1
    return start, end


_UNIT = re.compile(
    r"\s?(%|percent|per cent|°[CF]?|(?:kilo|centi|milli)?(?:metres?|meters?)|km|cm|mm|m|miles?|feet|ft|inch(?:es)?|"
    r"(?:kilo)?grams?|kg|g|tonnes?|tons?|pounds?|lbs?|litres?|liters?|l|degrees?|years?|months?|weeks?|days?|hours?|"
    r"minutes?|seconds?|million|billion|trillion|thousand|hundred)\b", re.I)


def echoes(reply: str, question: str) -> bool:
    """True when the reply only repeats the question's own words ("Venezuela's state oil company"): no answer."""
    from rag.text import content_terms

    said = set(content_terms(reply))
    return bool(said) and said <= set(content_terms(question))


def none_probability(completion) -> float:
    """Probability the model gave to starting its reply with NONE (its doubt that the passage answers)."""
    if not completion.tokens:
        return 1.0 if completion.text.strip().upper().startswith(_NONE) else 0.0
    first = completion.tokens[0]
    options = first.top or ((first.text, first.logprob),)
    return min(1.0, sum(math.exp(lp) for token, lp in options if token.strip() and _NONE.startswith(token.strip().upper())))


def answer_logprob(completion) -> float:
    """Mean log-probability of the reply's tokens: low when the model was unsure of what it copied."""
    values = [t.logprob for t in completion.tokens if t.text.strip()]
    return sum(values) / len(values) if values else 0.0


class LLMReader(ReadsByStreaming):
    name = "llm"

    def __init__(self, embedder: EmbedderLike, *, model: str | None = None, llm=None,
                 settings: LLMSettings = LLMSettings(), extractive: ExtractiveReader | None = None,
                 calibrated: Calibration | None = None, abstain: bool = True):
        self.embedder = embedder
        self.abstain = abstain  # False: always answer, still recording the confidence (evaluation of declining)
        self.model = model
        self._llm = llm
        self._judge = None
        self.settings = settings
        # Ranks sentences, and answers when the model's phrase is not in the source; shared to reuse its cache.
        self.extractive = extractive or ExtractiveReader(embedder)
        self.calibrated = calibrated if calibrated is not None else (
            calibration("llm") if self.extractive.reranker is not None else None)

    @property
    def llm(self):
        if self._llm is None:
            from rag.llm import resolve_gguf, shared_llm
            from rag.paths import cache_dir

            self._llm = shared_llm(resolve_gguf(self.model, cache_dir()))
        return self._llm

    @property
    def judge(self):
        if self._judge is None:
            self._judge = SupportJudge(self.llm)
        return self._judge

    @staticmethod
    def short_messages(question: str, sentence: str) -> list[dict]:
        messages = [{"role": "system", "content": SHORT_SYSTEM}]
        for user, assistant in SHORT_EXAMPLES:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        messages.append({"role": "user", "content": f"Passage: {' '.join(sentence.split())}\nQuestion: {question}"})
        return messages

    def stream(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Iterator[tuple[str, object]]:
        found = metadata_reading(question, hits, lookup)
        if found is not None:
            yield "answer", found
            return
        ranked = self.extractive.ranked(question, hits, lookup)
        if not ranked:
            yield "answer", abstention()
            return
        cell = self.extractive.table_cell(question, ranked, lookup) if self.abstain else None
        if cell is not None and not cell.abstained:  # a table's cell is read by its header, not by the model
            yield "answer", cell
            return
        yield "answer", self._short(question, ranked, hits, lookup)

    def _short(self, question: str, ranked: list[ScoredSentence], hits, lookup: DocumentLookup) -> Reading:
        floor = ranked[0].relevance - self.settings.next_sentence_margin
        asked = [ranked[0]] + [s for s in ranked[1 : self.settings.max_sentences] if s.relevance >= floor]
        completion, span, chosen, verified = None, None, asked[0], 0.0
        checking = 0.0  # seconds spent in the support judge's checks (reported as judge_ms)

        def check(answer: str, sentence: str) -> float:
            nonlocal checking
            started = time.perf_counter()
            try:
                return self.judge.answers(question, answer, [sentence])
            finally:
                checking += time.perf_counter() - started

        for sentence in asked:
            reply_to = self.llm.complete(self.short_messages(question, sentence.text),
                                         max_tokens=self.settings.max_tokens_short,
                                         top_logprobs=self.settings.top_logprobs)
            reply = reply_to.text.strip().splitlines()[0].strip() if reply_to.text.strip() else ""
            found = None
            if reply and not reply.upper().startswith(_NONE) and not echoes(reply, question):
                found = align(reply, sentence.text, self.settings.fuzzy_threshold)
            if found is not None and in_header(sentence.text, found):
                found = None  # a table's header names a column: it is never the answer
            if found is None:
                if span is None:
                    completion = reply_to  # the last refusal stands for the model's doubt
                continue
            # A second, one-token look: does the sentence really state this answer, details (years, places)
            # included? It catches on-topic sentences about another year or person, which relevance alone cannot
            # tell apart. A doubtful answer sends the reader on to the next sentence; the surest answer is kept.
            sure = check(sentence.text[found[0] : found[1]], sentence.text)
            if span is None or sure > verified:
                completion, span, chosen, verified = reply_to, found, sentence, sure
            if verified >= self.settings.read_on_below:
                break
        citation, inside, typed_missing = self.extractive.short_answer(question, chosen, lookup)
        signals = self.extractive.signals(question, [chosen, *[s for s in ranked if s is not chosen]], lookup,
                                          typed_missing=typed_missing)
        signals.update({
            "none_probability": none_probability(completion),
            "answer_logprob": answer_logprob(completion) if span is not None else -5.0,
            "model_declined": float(span is None),
            "sentence_rank": float(asked.index(chosen)),
            "verified": verified,
            "judge_ms": round(checking * 1000, 1),
        })
        confidence = self.calibrated.confidence(signals) if self.calibrated else (0.0 if span is None else 1.0)
        threshold = self.calibrated.threshold if self.calibrated else 0.5
        if self.abstain and confidence < threshold:
            return abstention(confidence, signals)
        if span is not None:
            st = self.settings
            dated, whole = completed_date(
                question, chosen, span, ranked, depth=st.date_depth, min_overlap=st.date_min_overlap,
                checks=st.date_checks,
                confirm=lambda date, sentence: check(date, sentence) >= st.date_min_support,
                context=lambda sentence: in_context(sentence, lookup))
            if dated is chosen and whole != span:
                signals["date_widened"] = 1.0  # to the date it was copied from ("2020" of "June 2020")
            span = whole
            if dated is not chosen:
                chosen, signals["date_completed"] = dated, 1.0
                citation = dated_citation(chosen, lookup, st.date_min_overlap)
            inside = (chosen.candidate.start + span[0], chosen.candidate.start + span[1])
            signals["judge_ms"] = round(checking * 1000, 1)  # the date's checks included
        # When the model declined or wrote words that are not in the source, the extractive answer stands.
        text = lookup(citation.doc_id).text[inside[0] : inside[1]] if inside else citation.quote
        return Reading(text, (citation,), False, confidence, signals=signals, answer_span=inside)
