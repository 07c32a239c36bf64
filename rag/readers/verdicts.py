"""Yes/no verdicts and comparisons of the auto reader (`rag.readers.auto`), and the small helpers its kinds share.

- yesno: "Yes" or "No" (the model's verdict over the evidence, P(Yes) from its first token, after invented examples
  of passages that say no in other words), then the evidence sentence, cited; a verdict too close to even is
  declined. Two named things are settled one at a time.
- comparison: each named thing's date or number copied from its own sentence and compared in code
  (`rag.quantities`); otherwise the model picks one of the two options.
"""

from __future__ import annotations

import re
from typing import Iterator, Sequence

from rag.quantities import amount, comparative, date_key
from rag.questions import Question, about_one
from rag.readers import DocumentLookup, Reading, abstention
from rag.readers.extractive import ScoredSentence
from rag.readers.llm import align
from rag.readers.support import yes_probability
from rag.types import Citation

CHOICE_SYSTEM = (
    "You answer a comparison question from numbered passages. Reply with exactly one of the options given, copied "
    "as written, and nothing else."
)
VERDICT_SYSTEM = (
    "You answer yes/no questions from numbered passages. Reply Yes or No, as the passages say. Reply with one word."
)
# The small model says Yes to a passage that says no in other words: a service that has stopped, a thing only
# planned, "never". Invented pairs (not any collection's topics) show those as No and two plain ones as Yes; they
# stay in llama.cpp's prompt cache. Used for a question about one thing: per-thing questions ("are both ...")
# drifted to No with them on the tune rows.
VERDICT_EXAMPLES = (
    ("The ferry service to Orsa Island was suspended in March and has not resumed.",
     "Does the ferry still run to Orsa Island?", "No"),
    ("The museum's east wing reopened in May after a two-year renovation.", "Is the museum's east wing open again?",
     "Yes"),
    ("Delegates from Norvik will travel to the summit next month to discuss a trade pact.",
     "Did Norvik sign a trade pact?", "No"),
    ("The Halden library has never charged a fee for borrowing books.",
     "Does the Halden library charge a borrowing fee?", "No"),
    ("Both the Velan Quartet and the pianist Ada Reyes were born in Lisbon.", "Was Ada Reyes born in Lisbon?", "Yes"),
)
_SAME = re.compile(r"\bsame (\w+)", re.I)


class Verdicts:
    """The yes/no and comparison kinds, mixed into `AutoReader` (which gives `llm`, `short`, `settings`,
    `_evidence_for` and `_explain`)."""

    def _yesno(self, asked: Question, hits, lookup) -> Iterator[tuple[str, object]]:
        evidence = self._evidence_for(asked, hits, lookup)
        if not evidence or max(s.relevance for s in evidence) < self.settings.min_relevance:
            yield "answer", abstention()
            return
        probability = self._verdict(asked, evidence)
        if abs(probability - 0.5) < self.settings.verdict_margin:
            yield "answer", abstention(abs(probability - 0.5) * 2, {"p_yes": probability})
            return
        verdict = "Yes" if probability >= 0.5 else "No"
        signals = {"p_yes": probability}
        if asked.options:
            cited = evidence[:2]  # each thing's own sentence, each settled on its own
        else:
            quoted = self._agreeing(asked, verdict, evidence, probability)
            if quoted is None:  # no sentence says so by itself: the verdict would contradict what is quoted
                yield "answer", abstention(0.0, {**signals, "no_agreeing_quote": 1.0})
                return
            cited, signals["quote_p_yes"] = [quoted[0]], quoted[1]
        citations = tuple(_citation(s, lookup) for s in cited)
        quotes = " ".join(f"{c.quote} [{n}]" for n, c in enumerate(citations, start=1))
        yield "answer", Reading(f"{verdict}. {quotes}", citations, False, max(probability, 1 - probability),
                                short=verdict, signals=signals)

    def _agreeing(self, asked: Question, verdict: str, evidence: list[ScoredSentence],
                  together: float) -> tuple[ScoredSentence, float] | None:
        """The best-ranked evidence sentence that gives the same verdict read alone, with its P(Yes): "Yes" is quoted
        with a sentence that states it, "No" with one that states otherwise ("signed a deal with Shell, while Exxon
        executives have scheduled a trip" is a No to a deal with Exxon, whatever the other sentences suggested). None
        when no sentence agrees by itself."""
        question = asked.text if not asked.claim else f"Is this true: {asked.text}"
        for sentence in evidence[: self.settings.verdict_sentences]:
            if sentence.relevance < self.settings.min_relevance:
                continue
            # One sentence of evidence was read alone already: its verdict is `together`.
            alone = together if len(evidence) == 1 else self._yes(question, [sentence.text], examples=True)
            if abs(alone - 0.5) >= self.settings.verdict_margin and (alone >= 0.5) == (verdict == "Yes"):
                return sentence, alone
        return None

    def _verdict(self, asked: Question, evidence: list[ScoredSentence]) -> float:
        """P(Yes). About two named things, each is settled on its own evidence (a small model weighs one thing
        far better than two at once): "the same X" compares the X the passages give each; "both ..." needs both."""
        question = asked.text if not asked.claim else f"Is this true: {asked.text}"
        if len(asked.options) == 2 and len(evidence) >= 2:
            own = [self._about(option, evidence) for option in asked.options]
            same = _SAME.search(asked.text)
            if same and all(own):
                values = [self._copy_one(f"What is the {same.group(1)} of {option}?", sentence)
                          for option, sentence in zip(asked.options, own)]
                if all(values):
                    from rapidfuzz import fuzz

                    a, b = (" ".join(v.lower().split()) for v in values)
                    return 0.9 if a == b or fuzz.token_set_ratio(a, b) >= 90 else 0.1
            if all(own) and own[0] is not own[1]:
                each = [self._yes(about_one(question, option), [sentence.text])
                        for option, sentence in zip(asked.options, own)]
                return min(each)
        return self._yes(question, [s.text for s in evidence], examples=True)

    def _yes(self, question: str, texts: list[str], *, examples: bool = False) -> float:
        shown = ([(_numbered(asked, [passage]), verdict) for passage, asked, verdict in VERDICT_EXAMPLES]
                 if examples else [])
        messages = _few_shot(VERDICT_SYSTEM, shown, _numbered(question, texts))
        return yes_probability(self.llm.complete(messages, max_tokens=1, top_logprobs=10))

    def _about(self, option: str, evidence: list[ScoredSentence]) -> ScoredSentence | None:
        """The evidence sentence that names `option` (by its words), if any."""
        from rapidfuzz import fuzz

        words = [w for w in re.findall(r"\w+", option.lower()) if len(w) > 2] or [option.lower()]

        def named(sentence: ScoredSentence) -> float:
            text = sentence.text.lower()
            share = sum(w in re.findall(r"\w+", text) for w in words) / len(words)
            return max(fuzz.partial_ratio(option.lower(), text) / 100, share)

        best = max(evidence, key=named)
        return best if named(best) >= 0.8 or (len(words) > 1 and named(best) >= 0.5 and words[0] in best.text.lower()) else None

    def _copy_one(self, question: str, sentence: ScoredSentence) -> str | None:
        """A phrase copied from one sentence that answers `question`, or None."""
        messages = self.short.short_messages(question, sentence.text)
        reply = _first_line(self.llm.complete(messages, max_tokens=16).text)
        if not reply or reply.upper().startswith("NONE"):
            return None
        span = align(reply, sentence.text)
        return sentence.text[span[0]:span[1]] if span else None

    def _comparison(self, asked: Question, hits, lookup) -> Iterator[tuple[str, object]]:
        if len(asked.options) != 2:
            yield from self._explain(asked, hits, lookup)
            return
        evidence = self._evidence_for(asked, hits, lookup)
        if not evidence:
            yield "answer", abstention()
            return
        by_value = self._by_value(asked, evidence)
        if by_value is not None:
            chosen, cited = by_value
            citations = tuple(_citation(s, lookup) for s in cited)
            quotes = " ".join(f"{c.quote} [{n}]" for n, c in enumerate(citations, start=1))
            yield "answer", Reading(f"{chosen}. {quotes}", citations, False, 0.9, short=chosen,
                                    signals={"compared_values": 1.0})
            return
        a, b = asked.options
        messages = [{"role": "system", "content": CHOICE_SYSTEM},
                    {"role": "user", "content": _numbered(asked.text, [s.text for s in evidence])
                     + f"\nOptions: {a} | {b}\nAnswer with one option."}]
        reply = _first_line(self.llm.complete(messages, max_tokens=16).text)
        from rapidfuzz import fuzz

        scores = [fuzz.partial_ratio(reply.lower(), option.lower()) for option in asked.options]
        if not reply or max(scores) < 60 or scores[0] == scores[1]:
            yield "answer", abstention(0.0, {"choice": 0.0})
            return
        chosen = asked.options[int(scores[1] > scores[0])]
        citations = tuple(_citation(s, lookup) for s in evidence[:2])
        quotes = " ".join(f"{c.quote} [{n}]" for n, c in enumerate(citations, start=1))
        yield "answer", Reading(f"{chosen}. {quotes}", citations, False, max(scores) / 100, short=chosen)

    def _by_value(self, asked: Question, evidence: list[ScoredSentence]) -> tuple[str, list[ScoredSentence]] | None:
        """"Who is older, A or B?", "Which has more seats?": each thing's date or number copied from its own sentence
        and compared in code. None when the question compares no value or either value is not found."""
        measure = comparative(asked.text)
        if measure is None:
            return None
        direction, temporal = measure
        own = [self._about(option, evidence) for option in asked.options]
        if not all(own) or own[0] is own[1]:
            return None
        values = []
        for option, sentence in zip(asked.options, own):
            copied = self._copy_one(f"{asked.text} Copy the date or number given for {option}.", sentence) or ""
            value = (date_key if temporal else amount)(copied)
            if value is None:
                return None
            if temporal and copied in sentence.text:  # "1941" copied from "born September 15, 1941": the whole date
                at = sentence.text.index(copied)
                around = date_key(sentence.text[max(0, at - 20): at + len(copied) + 20])
                value = around if around and around[0] == value[0] and around[1] else value
            values.append(value)
        if values[0] == values[1] or temporal and values[0][0] == values[1][0] and not (values[0][1] and values[1][1]):
            return None
        larger = int(values[1] > values[0])
        return asked.options[larger if direction > 0 else 1 - larger], own


def _few_shot(system: str, examples: Sequence[tuple[str, str]], asked: str) -> list[dict]:
    """The chat messages of a prompt: instructions, the worked examples as earlier turns, then what is asked."""
    messages = [{"role": "system", "content": system}]
    for user, assistant in examples:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return messages + [{"role": "user", "content": asked}]


def _numbered(question: str, texts: Sequence[str]) -> str:
    numbered = "\n".join(f"[{n}] {' '.join(t.split())}" for n, t in enumerate(texts, start=1))
    return f"Passages:\n{numbered}\n\nQuestion: {question}"


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0].strip() if text else ""


def _citation(sentence: ScoredSentence, lookup: DocumentLookup) -> Citation:
    return Citation.from_document(lookup(sentence.candidate.doc_id), sentence.candidate.start, sentence.candidate.end)
