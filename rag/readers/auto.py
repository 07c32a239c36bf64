"""The `auto` reader: the answer takes the shape of the question (`rag.questions`), every claim cited and checked.

- fact: the llm reader's crisp phrase; when it declines, a second hop (below) may still find it across passages.
  What two named things have in common ("What profession do A and B share?") is read from each one's best
  sentence, searched for separately, and must be stated of both.
- two-step: the best sentence for the question is read, the documents are searched again with it (the thing the
  question only describes is named there), and the model copies the answer from the sentences of both hops.
- yesno: "Yes" or "No" (the model's verdict over the evidence, P(Yes) from its first token), then the evidence
  sentence, cited; a verdict too close to even is declined. Two named things are searched for separately.
- comparison: evidence searched for each named thing separately, then the model picks one of them.
- list: the model copies every item the best sentences name; each item must stand in the sentence it cites.
- reason / description: the model writes one to three sentences with [n] markers; each is checked by the support
  judge (`rag.readers.support`) against the sentence it cites and dropped when unsupported. When nothing survives,
  the best sentences themselves are quoted.
- overview: the document itself is read (its most central sentences and its opening), not the top chunks; over
  several documents, one cited line for each.

Everything shown is the source's own characters or a sentence the judge checked against the span it cites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Sequence

from rag.questions import Question, classify
from rag.readers import DocumentLookup, Reading, ReadsByStreaming, abstention
from rag.readers.extractive import ScoredSentence
from rag.readers.llm import LLMReader, align, echoes
from rag.readers.overview import Overviews
from rag.readers.support import SupportJudge, coverage, in_context
from rag.readers.verdicts import Verdicts, _citation, _few_shot, _first_line, _numbered
from rag.text import content_terms
from rag.types import Document, Hit

Search = Callable[[str, int], Sequence[Hit]]

MULTI_SYSTEM = (
    "You answer a question from numbered passages. The answer may need two passages: one names what the question "
    "describes, another gives the fact. Reply with the shortest phrase copied exactly from the passages that answers "
    "the question, and nothing else. If the passages do not answer it, reply: NONE"
)
MULTI_EXAMPLES = [
    ("Passages:\n[1] The Night Watch is a painting completed by Rembrandt in 1642.\n[2] Rembrandt was born in "
     "Leiden, in the Dutch Republic.\n\nQuestion: In which city was the painter of The Night Watch born?", "Leiden"),
    ("Passages:\n[1] The bridge opened to traffic in 1932.\n[2] Its engineer, Ana Costa, also designed the harbour."
     "\n\nQuestion: Who painted the bridge's first mural?", "NONE"),
]
SHARED_SYSTEM = (
    "A question asks what two named things have in common. Reply with the shortest phrase copied exactly from the "
    "numbered passages that is true of both, and nothing else. If the passages do not show one, reply: NONE"
)
SHARED_EXAMPLES = [
    ("Passages:\n[1] Lena Vass (born 1971) is a Hungarian painter and sculptor.\n[2] Tomas Reuel was a Dutch "
     "sculptor and teacher.\n\nQuestion: What profession do Lena Vass and Tomas Reuel share?", "sculptor"),
    ("Passages:\n[1] Ostrava is a city in the Czech Republic.\n[2] Brno hosts a motorcycle race every August.\n\n"
     "Question: Which river do Ostrava and Brno both lie on?", "NONE"),
]
SPLIT_SYSTEM = (
    "A question describes something instead of naming it. Split it into two questions: line 1 asks for the name of "
    "the described thing; line 2 is the question with that thing written as #1. Reply with the two lines only."
)
SPLIT_EXAMPLES = [
    ("In which city was the painter of The Night Watch born?", "1) Who painted The Night Watch?\n2) In which city was #1 born?"),
    ("What award did the woman who founded the magazine Vogue Living win?",
     "1) Which woman founded the magazine Vogue Living?\n2) What award did #1 win?"),
    ("How many people live in the country where the Sigiriya fortress stands?",
     "1) In which country does the Sigiriya fortress stand?\n2) How many people live in #1?"),
]
LIST_SYSTEM = (
    "You list answers from numbered passages. Write every item the passages name that answers the question, one "
    "short item per line, each copied exactly from the passages and followed by its passage number in brackets. "
    "Write nothing else. If the passages name none, reply: NONE"
)
LIST_EXAMPLES = [
    ("Passages:\n[1] The market sells apples, pears and plums from local farms.\n[2] Since 2001 it has also sold "
     "cherries.\n[3] It opens at eight.\n\nQuestion: What fruit does the market sell?",
     "apples [1]\npears [1]\nplums [1]\ncherries [2]"),
    # Items that are clauses (conditions, rules, steps) are copied whole: without this example the model wrote the
    # words that label them ("height", "distance", "use" for three conditions).
    ("Passages:\n[1] Visitors to the lab must sign in at the front desk, wear safety glasses at all times and leave "
     "their bags in the lockers.\n\nQuestion: What rules must visitors follow?",
     "sign in at the front desk [1]\nwear safety glasses at all times [1]\nleave their bags in the lockers [1]"),
    ("Passages:\n[1] The bridge opened in 1932.\n\nQuestion: Which painters worked on the bridge?", "NONE"),
]
EXPLAIN_SYSTEM = (
    "You answer questions using only the numbered passages. Write one to three short sentences in your own words "
    "that answer the question. End each sentence with the number of the passage that states it, like [1]. Say only "
    "what the passages state. If the passages do not answer the question, reply: NONE"
)
DESCRIBE_SYSTEM = (
    "You say who or what something is, using only the numbered passages. Write one or two short sentences naming "
    "the role, title or definition the passages give. End each sentence with the number of the passage that states "
    "it, like [1]. If the passages do not say, reply: NONE"
)
# Kinds whose question may ask for one cell of a table ("What was the purpose of the Oslo trip?" reads as a reason):
# a list, a verdict, a comparison or an overview is about more than one cell.
CELL_KINDS = ("fact", "two-step", "reason", "description")
_MARKER = re.compile(r"\s*\[(\d+)\]")


@dataclass(frozen=True)
class AutoSettings:
    evidence: int = 4  # sentences a multi-passage read sees
    explain_sentences: int = 3
    list_sentences: int = 3
    hop_k: int = 5  # passages searched in a second hop, or for each named thing
    # An answer copied from a second reading is shown only when the support judge gives at least this P(Yes) that the
    # sentences state it: the lowest at which such answers were right at least half the time on the RGB and HotpotQA
    # tune halves. A fact the llm reader declined needs more (its second reading mostly found an answer to a
    # neighbouring question) than a question that names its answer only through another passage.
    hop_min_support: float = 0.5
    fallback_min_support: float = 0.7
    verdict_margin: float = 0.05  # a yes/no verdict within this of 0.5 is too close to call: declined
    verdict_sentences: int = 2  # evidence sentences read alone for one that gives the verdict by itself (the quote)
    min_relevance: float = -2.0  # cross-encoder logit: below it a quoted sentence is not about the question
    # A list's items often stand in a sentence that never names what is asked for ("signed a deal with Shell" for
    # "Which oil companies …?"): one within this many logits of the best (which itself passes `min_relevance`) is read
    # too. Kinds set, list questions: tune 14 -> 15 of 19 (the oil companies), confirm 7 of 8 either way.
    list_margin: float = 2.0
    overview_sentences: int = 3
    overview_documents: int = 10
    max_tokens_list: int = 80
    max_tokens_explain: int = 140


@dataclass(frozen=True)
class Library:
    """What an answer may read beyond the passages retrieved for the question."""

    search: Search
    documents: Callable[[], Sequence[Document]]


class AutoReader(Verdicts, Overviews, ReadsByStreaming):
    name = "auto"

    def __init__(self, short: LLMReader, *, settings: AutoSettings = AutoSettings(), judge: SupportJudge | None = None,
                 library: Library | None = None, explain_only: bool = False):
        self.short = short  # the llm reader: crisp facts, and the model and sentence ranking every shape uses
        self.extractive = short.extractive
        self.settings = settings
        self._judge = judge
        self.library = library
        # `llm-explain`: every question answered in sentences, each checked, whatever its kind.
        self.explain_only = explain_only
        self.name = "llm-explain" if explain_only else "auto"

    def bound(self, library: Library) -> "AutoReader":
        """This reader reading from `library` (one index generation, for one question)."""
        return AutoReader(self.short, settings=self.settings, judge=self._judge, library=library,
                          explain_only=self.explain_only)

    @property
    def llm(self):
        return self.short.llm

    @property
    def judge(self) -> SupportJudge:
        """The one judge of support, shared with the llm reader (its answers' checks) unless one was given."""
        return self._judge if self._judge is not None else self.short.judge

    def stream(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Iterator[tuple[str, object]]:
        asked = classify(question)
        if self.explain_only and asked.kind not in ("reason", "description"):
            asked = replace(asked, kind="reason")
        if asked.kind in CELL_KINDS:
            cell = self.extractive.table_cell(asked.text, self.extractive.ranked(asked.text, hits, lookup), lookup)
            if cell is not None and not cell.abstained:  # one cell of a row the question names, by its header
                yield "answer", replace(cell, kind=asked.kind)
                return
        shaped = {
            "fact": self._fact, "two-step": self._two_step, "yesno": self._yesno, "comparison": self._comparison,
            "list": self._list, "reason": self._explain, "description": self._explain, "overview": self._overview,
        }[asked.kind]
        for event, value in shaped(asked, hits, lookup):
            yield event, (replace(value, kind=asked.kind) if event == "answer" else value)

    # ----- one fact, or a fact across two passages ------------------------------------------------------------

    def _fact(self, asked: Question, hits, lookup) -> Iterator[tuple[str, object]]:
        shared = self._shared(asked, hits, lookup) if asked.options and self.library is not None else None
        if shared is not None:
            yield "answer", shared
            return
        reading = self.short.read(asked.text, hits, lookup)
        if reading.abstained and self.library is not None:
            hopped = self._hop(asked, hits, lookup, self.settings.fallback_min_support)
            if hopped is not None:
                reading = hopped
        yield "answer", self._with_short(reading)

    def _two_step(self, asked: Question, hits, lookup) -> Iterator[tuple[str, object]]:
        hopped = self._decomposed(asked, hits, lookup) or self._hop(asked, hits, lookup, self.settings.hop_min_support)
        yield "answer", hopped if hopped is not None else self._with_short(self.short.read(asked.text, hits, lookup))

    def _decomposed(self, asked: Question, hits, lookup) -> Reading | None:
        """The inner question first ("Which county is East Lempster in?"), its answer copied and cited; then the
        outer question asked with that name in place of the description, searched and read again."""
        if self.library is None:
            return None
        messages = _few_shot(SPLIT_SYSTEM, SPLIT_EXAMPLES, asked.text)
        lines = [line.strip() for line in self.llm.complete(messages, max_tokens=64).text.splitlines() if line.strip()]
        parts = [re.sub(r"^\d\)\s*", "", line) for line in lines[:2]]
        if len(parts) != 2 or "#1" not in parts[1] or "#1" in parts[0]:
            return None
        inner = self.short.read(parts[0], hits, lookup)
        if inner.abstained or not inner.text.strip() or len(inner.text) > 80:
            again = self.library.search(parts[0], self.settings.hop_k)
            inner = self.short.read(parts[0], again, lookup)
            if inner.abstained or not inner.text.strip() or len(inner.text) > 80:
                return None
        outer_question = parts[1].replace("#1", inner.text.strip())
        found = self.library.search(outer_question, self.settings.hop_k)
        outer = self.short.read(outer_question, found, lookup)
        if outer.abstained:
            return None
        citations = tuple(dict.fromkeys(outer.citations + inner.citations))
        return replace(outer, citations=citations, short=outer.text,
                       signals={**outer.signals, "hops": 2.0, "decomposed": 1.0})

    def _with_short(self, reading: Reading) -> Reading:
        return reading if reading.abstained else replace(reading, short=reading.text)

    def _hop(self, asked: Question, hits, lookup, minimum: float) -> Reading | None:
        """Read the best sentence, search again with it, and copy the answer from the sentences of both hops."""
        first = self.extractive.ranked(asked.text, hits, lookup)
        if not first:
            return None
        evidence = first[:2]
        if self.library is not None:
            seen = {h.chunk.chunk_id for h in hits}
            again = [h for h in self.library.search(f"{asked.text} {first[0].text}", self.settings.hop_k)
                     if h.chunk.chunk_id not in seen]
            second = self.extractive.ranked(asked.text, again, lookup) if again else []
            evidence += [s for s in second if s.candidate.doc_id != first[0].candidate.doc_id][:2]
        # Room left goes to the first hop's next sentences (the bridge's own document may hold the answer too).
        evidence += [s for s in first[2:] if all(s.candidate != e.candidate for e in evidence)]
        evidence = evidence[: self.settings.evidence]
        return self._copy_phrase(asked, evidence, lookup, bridge=first[0], minimum=minimum)

    def _copy_phrase(self, asked: Question, evidence: list[ScoredSentence], lookup, *, bridge: ScoredSentence,
                     minimum: float) -> Reading | None:
        messages = _few_shot(MULTI_SYSTEM, MULTI_EXAMPLES, _numbered(asked.text, [s.text for s in evidence]))
        reply = _first_line(self.llm.complete(messages, max_tokens=24).text)
        if not reply or reply.upper().startswith("NONE") or echoes(reply, asked.text):
            return None  # no answer, or only the question's own words back ("Microsoft" for Microsoft's headset)
        for sentence in evidence:
            span = align(reply, sentence.text, self.short.settings.fuzzy_threshold)
            if span is None:
                continue
            probability = self.judge.answers(asked.text, sentence.text[span[0]:span[1]], [s.text for s in evidence])
            if probability < minimum:
                return None
            start, end = sentence.candidate.start + span[0], sentence.candidate.start + span[1]
            cited = [sentence] + ([bridge] if bridge is not sentence else [])
            citations = tuple(_citation(s, lookup) for s in cited)
            text = lookup(sentence.candidate.doc_id).text[start:end]
            return Reading(text, citations, False, probability, answer_span=(start, end), short=text,
                           signals={"verified": probability, "hops": 2.0})
        return None

    def _shared(self, asked: Question, hits, lookup) -> Reading | None:
        """What two named things have in common ("What profession do A and B share?", "A and B are both what?"):
        each one's best sentence, searched for separately, is read with the question's; the phrase the model copies
        must be stated of both (a word of it in each one's sentence) and pass the judge against those sentences,
        which are both cited. None sends the question on to the one-fact reading."""
        evidence = self._evidence_for(asked, hits, lookup)
        named = [next((s for s in evidence if option.lower() in s.text.lower()), None)  # the sentence names it,
                 or next((s for s in evidence if option.lower() in lookup(s.candidate.doc_id).text.lower()), None)
                 for option in asked.options]  # or at least its document does
        if any(s is None for s in named):
            return None
        named = list(dict.fromkeys(named))
        messages = _few_shot(SHARED_SYSTEM, SHARED_EXAMPLES, _numbered(asked.text, [s.text for s in evidence]))
        reply = _first_line(self.llm.complete(messages, max_tokens=24).text)
        words = set(content_terms(reply))
        if not words or reply.upper().startswith("NONE") or echoes(reply, asked.text):
            return None
        if not all(words & set(content_terms(s.text)) for s in named):
            return None  # true of one of them only, as far as the passages say
        for sentence in named + [s for s in evidence if s not in named]:
            span = align(reply, sentence.text, self.short.settings.fuzzy_threshold)
            if span is None:
                continue
            text = sentence.text[span[0]:span[1]]
            probability = self.judge.answers(asked.text, text, [s.text for s in named])
            if probability < self.settings.hop_min_support:
                return None
            start, end = sentence.candidate.start + span[0], sentence.candidate.start + span[1]
            cited = [sentence] + [s for s in named if s is not sentence]
            return Reading(lookup(sentence.candidate.doc_id).text[start:end], tuple(_citation(s, lookup) for s in cited),
                           False, probability, answer_span=(start, end), short=text,
                           signals={"verified": probability, "shared": 1.0})
        return None

    # ----- yes / no, and comparisons -------------------------------------------------------------------------

    def _evidence_for(self, asked: Question, hits, lookup) -> list[ScoredSentence]:
        """The best sentences for the question, and for each thing it names, searched for separately."""
        ranked = self.extractive.ranked(asked.text, hits, lookup)
        evidence = ranked[:2]
        if asked.options and self.library is not None:
            evidence = []
            for option in asked.options:
                others = [o for o in asked.options if o != option]
                query = asked.text
                for other in others:
                    query = re.sub(re.escape(other), " ", query, flags=re.I)
                found = self.library.search(f"{option} {query}", self.settings.hop_k)
                best = self.extractive.ranked(query, found, lookup)
                naming = {d for d in {s.candidate.doc_id for s in best} if option.lower() in lookup(d).text.lower()}
                about = [s for s in best if s.candidate.doc_id in naming] or best
                evidence += [s for s in about[:1] if all(s.candidate != e.candidate for e in evidence)]
            evidence += [s for s in ranked[:1] if all(s.candidate != e.candidate for e in evidence)]
        return evidence[: self.settings.evidence]

    # ----- several items ----------------------------------------------------------------------------------------

    def _list(self, asked: Question, hits, lookup) -> Iterator[tuple[str, object]]:
        ranked = self.extractive.ranked(asked.text, hits, lookup)
        top, floor = ranked[: self.settings.list_sentences], self.settings.min_relevance
        if top and top[0].relevance >= floor:
            floor = min(floor, top[0].relevance - self.settings.list_margin)
        evidence = [s for s in top if s.relevance >= floor]
        if not evidence:
            yield "answer", abstention()
            return
        messages = _few_shot(LIST_SYSTEM, LIST_EXAMPLES, _numbered(asked.text, [s.text for s in evidence]))
        written = self.llm.complete(messages, max_tokens=self.settings.max_tokens_list).text
        items: list[tuple[str, ScoredSentence, tuple[int, int]]] = []
        seen: set[str] = set()
        for line in written.splitlines():
            line = line.strip().lstrip("-•*0123456789.) ").strip()
            if not line or line.upper().startswith("NONE"):
                continue
            number = _MARKER.search(line)
            phrase = _MARKER.sub("", line).strip(" ,;.")
            order = [evidence[int(number.group(1)) - 1]] if number and 1 <= int(number.group(1)) <= len(evidence) else []
            for sentence in order + evidence:
                span = align(phrase, sentence.text, self.short.settings.fuzzy_threshold)
                if span is not None:
                    key = " ".join(sentence.text[span[0]:span[1]].lower().split())
                    if key not in seen and len(key.split()) <= 12:
                        seen.add(key)
                        items.append((sentence.text[span[0]:span[1]], sentence, span))
                    break
        if not items:
            yield "answer", self._quoted(asked, ranked, lookup, 1)
            return
        cited: list[ScoredSentence] = []
        shown = []
        for text, sentence, _ in items:
            if sentence not in cited:
                cited.append(sentence)
            shown.append(f"{text} [{cited.index(sentence) + 1}]")
        citations = tuple(_citation(s, lookup) for s in cited)
        first = items[0]
        span = (first[1].candidate.start + first[2][0], first[1].candidate.start + first[2][1])
        yield "answer", Reading("; ".join(shown), citations, False, 1.0, answer_span=span,
                                short=", ".join(text for text, _, _ in items))

    # ----- reasons and descriptions: written, then checked sentence by sentence -------------------------------

    def _explain(self, asked: Question, hits, lookup) -> Iterator[tuple[str, object]]:
        query = f"Who or what is {asked.subject}?" if asked.kind == "description" and asked.subject else asked.text
        ranked = self.extractive.ranked(query, hits, lookup)
        evidence = [s for s in ranked[: self.settings.explain_sentences] if s.relevance >= self.settings.min_relevance]
        if not evidence:
            yield "answer", abstention()
            return
        system = DESCRIBE_SYSTEM if asked.kind == "description" else EXPLAIN_SYSTEM
        messages = [{"role": "system", "content": system},
                    {"role": "user", "content": _numbered(asked.text, [s.text for s in evidence])}]
        written = ""
        for piece in self.llm.stream(messages, max_tokens=self.settings.max_tokens_explain):
            written += piece
            yield "partial", _MARKER.sub("", written)
        kept, dropped = self._checked(asked, written, evidence, lookup)
        if not kept:
            # Nothing written could be checked (or the model said NONE): the best sentence is quoted when the model,
            # asked plainly, says it states the answer; otherwise the documents do not say.
            stated = self._states(asked.text, evidence[0], evidence)
            if stated < 0.5:
                yield "answer", abstention(stated, {"checked_sentences": 0.0, "dropped_sentences": float(dropped)})
                return
            yield "answer", self._quoted(asked, evidence, lookup, 1 if asked.kind == "description" else 2,
                                         dropped=dropped)
            return
        cited: list[ScoredSentence] = []
        shown = []
        for sentence_text, sources in kept:
            numbers = []
            for source in sources:
                if source not in cited:
                    cited.append(source)
                numbers.append(cited.index(source) + 1)
            shown.append(sentence_text + " " + "".join(f"[{n}]" for n in numbers))
        citations = tuple(_citation(s, lookup) for s in cited)
        yield "answer", Reading(" ".join(shown), citations, False, 1.0, partly_unsupported=False,
                                signals={"checked_sentences": float(len(kept)), "dropped_sentences": float(dropped)})

    def _states(self, question: str, sentence: ScoredSentence, evidence: list[ScoredSentence]) -> float:
        """P(Yes) that `sentence` answers the question, read with the other evidence sentences around it."""
        return self.judge.answers(question, sentence.text, [s.text for s in evidence], sentence=True)

    def _checked(self, asked: Question, written: str, evidence: list[ScoredSentence], lookup):
        """The written sentences whose cited passages state them, each with those passages; and how many were dropped."""
        written = written.strip()
        if not written or written.upper().startswith("NONE"):
            return [], 0
        kept, dropped = [], 0
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z\[])|(?<=\])\s+(?=[A-Z])", written):
            numbers = [int(n) for n in _MARKER.findall(sentence)]
            claim = _MARKER.sub("", sentence).strip()
            if len(re.findall(r"\w+", claim)) < 3:
                dropped += bool(claim)  # a marker alone, or a fragment: nothing to show
                continue
            sources = [evidence[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(evidence)]
            if not sources:  # no marker: it may still be stated by one of the passages
                sources = [max(evidence, key=lambda s: coverage(claim, [s.text]))]
            # The sentence before a cited one comes along: "It erupted in 1669" needs it to say what "it" is.
            if self.judge(claim, [in_context(s, lookup) for s in sources], asked.text).supported:
                kept.append((claim if claim.endswith((".", "!", "?")) else claim + ".", sources))
            else:
                dropped += 1
        return kept, dropped

    def _quoted(self, asked: Question, ranked: list[ScoredSentence], lookup, count: int, dropped: int = 0) -> Reading:
        """The best sentences themselves, quoted: what the source says when nothing written could be checked."""
        chosen = [s for s in ranked[:count] if s.relevance >= self.settings.min_relevance]
        if not chosen:
            return abstention(0.0, {"dropped_sentences": float(dropped)})
        citations = tuple(_citation(s, lookup) for s in chosen)
        text = " ".join(f"{c.quote} [{n}]" for n, c in enumerate(citations, start=1))
        return Reading(text, citations, False, 0.5, signals={"quoted": 1.0, "dropped_sentences": float(dropped)})
