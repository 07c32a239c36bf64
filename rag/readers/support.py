"""The one judge of "this span states this claim", for every claim the assistant shows.

Two signals, both cheap:
- coverage: the share of the claim's content words (stemmed, stop words and the question's own words left out) that
  the cited spans hold. A claim that adds a title, a year or a name the span does not have scores low, whatever a
  model thinks of it.
- the local model's verdict: one token, P(Yes) / (P(Yes) + P(No)) to "does the passage state this?".

A claim is supported when both pass (`SupportSettings`). Claims copied from the source are supported by
construction and never sent to the model. A claim drawn from a span that reports a view as someone's ("sceptics
point out that ...", "critics argue ...") must keep an attribution ("critics say", "according to"); a modal copied
along ("may", "likely") is not one: stated flatly, even in the span's own words, it says more than the span does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from rag.text import SENTENCE_REACH, content_terms, sentence_spans

JUDGE_SYSTEM = (
    "You check statements against passages. Reply Yes if the passages themselves state everything the statement says "
    "(names, roles, numbers, dates and causes included). Reply No if the statement adds anything the passages do not "
    "say, or says something else."
)


# A short answer: does the passage state that it answers the question, the details the question pins included? The
# on-topic sentence that gives the answer to a neighbouring question (another stage, year, edition, a former holder)
# is the usual wrong answer, so the model is shown such pairs first. The examples are invented: they teach the
# pattern, not any collection's topics. Their fixed text stays in llama.cpp's prompt cache between checks.
VERIFY_SYSTEM = (
    "You check answers against a passage. Reply Yes only if the passage states that the proposed answer is the "
    "answer to exactly this question: the same event, year, role and thing the question asks about. Reply No if the "
    "passage says the proposed answer did something else (another event, another year, another role, a part instead "
    "of the whole)."
)
# A whole sentence quoted as the answer (an explanation or a description that the model could not write) is checked
# plainly: the short answers of the examples made the model refuse sentences that do answer.
SENTENCE_SYSTEM = (
    "You check answers against a passage. Reply Yes if the passage itself states that the proposed answer answers the "
    "question, including every detail the question asks about (such as a year, a place or a name). Otherwise reply No."
)
VERIFY_EXAMPLES = (
    ("Halden Rovers dominated the sprint events at the 2031 Nordic Games.",
     "Which team won the most medals at the 2031 Nordic Games?", "Halden Rovers", "No"),
    ("Mira Okafor, the former chair of Veltrix, spoke at the launch.", "Who is the chair of Veltrix?", "Mira Okafor",
     "No"),
    ("The Lantern Trail 2 will be released on 4 March 2034.", "When was The Lantern Trail released?", "4 March 2034",
     "No"),
    ("Velo Haas won stage 12 of the 2029 Tour of Arden.", "Who won the 2029 Tour of Arden?", "Velo Haas", "No"),
    ("Quill Studio launched its first console, the Q1, on 9 May 2027.",
     "When did Quill Studio launch its first console?", "9 May 2027", "Yes"),
    ("The 2030 Harbour Prize went to the novelist Tessa Lund for her debut.", "Who was awarded the 2030 Harbour Prize?",
     "Tessa Lund", "Yes"),
)


# Words by which a source reports a view as someone's (contested, not established); a claim drawn from such a span
# must keep an attribution of its own.
_ATTRIBUTED = re.compile(r"\b(argu(e|es|ed|ing)|claim(s|ed|ing)?|point(s|ed)? out|allege[sd]?|contend(s|ed)?|"
                         r"sceptics?|skeptics?|critics?|opponents?|proponents?|supporters?|believe[sd]?|suggest(s|ed)?)\b",
                         re.I)
# Words that report a view as someone's. A modal ("may", "likely") does not: it is often copied with the view itself
# ("sceptics point out that the symptoms may differ" stated as "the symptoms may differ" still drops who says so).
_HEDGED = re.compile(r"\b(according to|say|says|said|think|thinks|thought|views?|disputed?|debated?|contested|"
                     r"some|reportedly|alleged(ly)?)\b", re.I)


@dataclass(frozen=True)
class SupportSettings:
    min_coverage: float = 0.8  # content words of the claim the spans must hold
    min_verdict: float = 0.5  # the model's P(Yes)
    top_logprobs: int = 10


@dataclass(frozen=True)
class Support:
    probability: float  # the model's P(Yes), 1.0 for a verbatim claim
    coverage: float
    supported: bool


def coverage(claim: str, spans: Sequence[str], question: str = "") -> float:
    """Share of the claim's own content words found in the spans (the question's words do not count: restating the
    question is not a claim)."""
    asked = set(content_terms(question))
    said = [t for t in dict.fromkeys(content_terms(claim)) if t not in asked]
    if not said:
        said = list(dict.fromkeys(content_terms(claim)))
    if not said:
        return 0.0
    held = set(content_terms(" ".join(spans)))
    return sum(t in held for t in said) / len(said)


def _before(sentence, lookup) -> tuple[int, int] | None:
    text = lookup(sentence.candidate.doc_id).text
    start = sentence.candidate.start
    before = [s for s in sentence_spans(text, max(0, start - SENTENCE_REACH), start) if s[1] <= start]
    return before[-1] if before else None


def context_start(sentence, lookup) -> int:
    """Where the sentence before a ranked sentence starts (the sentence's own start when it is the first)."""
    before = _before(sentence, lookup)
    return before[0] if before else sentence.candidate.start


def in_context(sentence, lookup) -> str:
    """A ranked sentence with the one before it ("It erupted in 1669" needs it to say what "it" is)."""
    before = _before(sentence, lookup)
    text = lookup(sentence.candidate.doc_id).text
    return (text[before[0]:before[1]] + " " if before else "") + sentence.text


def answer_messages(question: str, passage: str, answer: str, *, examples: bool = True) -> list[dict]:
    """The check of a short answer, after the invented examples; or (examples=False) of a whole sentence put forward
    as the answer."""

    def asked(passage: str, question: str, answer: str) -> str:
        return (f"Passage: {' '.join(passage.split())}\nQuestion: {question}\nProposed answer: {answer}\n"
                "Does the passage state this answer?")

    messages = [{"role": "system", "content": VERIFY_SYSTEM if examples else SENTENCE_SYSTEM}]
    for example, example_question, example_answer, verdict in VERIFY_EXAMPLES if examples else ():
        messages += [{"role": "user", "content": asked(example, example_question, example_answer)},
                     {"role": "assistant", "content": verdict}]
    return messages + [{"role": "user", "content": asked(passage, question, answer)}]


def yes_probability(completion) -> float:
    """P(Yes) / (P(Yes) + P(No)) at the reply's first token; 0.5 when the model gave neither."""
    if not completion.tokens:
        return 0.5
    first = completion.tokens[0]
    options = first.top or ((first.text, first.logprob),)
    yes = sum(math.exp(lp) for token, lp in options if token.strip().lower() == "yes")
    no = sum(math.exp(lp) for token, lp in options if token.strip().lower() == "no")
    return yes / (yes + no) if yes + no else 0.5


def judge_messages(claim: str, spans: Sequence[str], question: str = "") -> list[dict]:
    passages = "\n".join(f"- {' '.join(s.split())}" for s in spans)
    asked = f"Question: {question}\n" if question else ""
    return [{"role": "system", "content": JUDGE_SYSTEM},
            {"role": "user", "content": f"Passages:\n{passages}\n{asked}Statement: {claim}\n"
                                        "Do the passages state this? Answer Yes or No."}]


class SupportJudge:
    """judge(claim, spans, question) -> Support. `llm` is anything with `complete(messages, max_tokens, top_logprobs)`."""

    def __init__(self, llm, settings: SupportSettings = SupportSettings()):
        self.llm = llm
        self.settings = settings

    def __call__(self, claim: str, spans: Sequence[str], question: str = "") -> Support:
        if _ATTRIBUTED.search(" ".join(spans)) and not _ATTRIBUTED.search(claim) and not _HEDGED.search(claim):
            # "Sceptics point out that X" does not state X: a claim that drops who argues it says more than the span,
            # even in the span's own words.
            return Support(0.0, coverage(claim, spans, question), False)
        folded = " ".join(claim.split()).strip(" .").lower()
        if folded and any(folded in " ".join(s.split()).lower() for s in spans):
            return Support(1.0, 1.0, True)  # the source's own words
        share = coverage(claim, spans, question)
        if share < self.settings.min_coverage:
            return Support(0.0, share, False)  # not worth a model call: it says what the spans do not
        probability = self.verdict(claim, spans, question)
        return Support(probability, share, probability >= self.settings.min_verdict)

    def verdict(self, claim: str, spans: Sequence[str], question: str = "") -> float:
        """The model's P(Yes) alone, without the word checks."""
        return self._yes(judge_messages(claim, spans, question))

    def answers(self, question: str, answer: str, spans: Sequence[str], *, sentence: bool = False) -> float:
        """P(the spans state that `answer` answers `question`, the details the question pins included): the check of
        a short answer (the llm reader's, the auto reader's copied phrases) or, with `sentence`, of a sentence quoted
        as the answer."""
        return self._yes(answer_messages(question, " ".join(spans), answer, examples=not sentence))

    def _yes(self, messages: list[dict]) -> float:
        return yes_probability(self.llm.complete(messages, max_tokens=1, top_logprobs=self.settings.top_logprobs))
