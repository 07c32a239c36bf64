"""What kind of question this is, so the answer can take the shape a person expects.

Kinds: fact (one name, date, number or phrase), list (several items), yesno (a verdict; a statement to check is this
kind too), reason (why / how / what caused), description (who or what something is), overview (what a document or
the indexed documents are about), comparison (two named things weighed against each other) and two-step (a fact
about something the question only describes: "the director of the film that won X").

Rules decide; they read only the question's form (its first words, "or" between two named things, a relative
clause), never a document's content. A follow-up ("What did she sign?") is resolved against the question it follows
by `resolve_followup`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Sequence

Kind = Literal["fact", "list", "yesno", "reason", "description", "overview", "comparison", "two-step"]
KINDS: tuple[str, ...] = ("fact", "two-step", "comparison", "yesno", "list", "reason", "description", "overview")

_AUX = ("is", "are", "was", "were", "do", "does", "did", "can", "could", "has", "have", "had", "will", "would",
        "should", "shall", "may", "might", "must", "isn't", "aren't", "wasn't", "weren't", "doesn't", "didn't",
        "don't", "hasn't", "haven't", "can't", "won't")
_WH = ("who", "whom", "whose", "what", "which", "when", "where", "why", "how", "in", "on", "at", "for", "from",
       "by", "with", "to", "name", "list", "give", "tell", "describe", "explain", "summarize", "summarise")
_OVERVIEW = re.compile(
    r"\b(summar(y|ise|ize)|overview|main (points|ideas|topics)|key (points|takeaways)|gist|tl;?dr)\b"
    r"|^what(?:'s| is| are| was)? (?:(?:this|the|these|my|that) )?(?:\w+ )?(article|document|text|report|file|page|"
    r"paper|story|letter|mail|email|book|documents|files|articles|reports|notes|it|this)s? (is |are )?about\b"
    r"|^what (do|does) (the|these|my|this) (documents?|files?|articles?|reports?|notes) (say|cover|contain)\b"
    r"|^what (documents|files) (are|do you have)",
    re.I,
)
_REASON = re.compile(
    r"^(why|explain|in what ways?)\b"
    r"|^how (did|does|do|has|have|had|is|are|was|were|will|would|could|can|should|might)\b"
    r"|^what (caused|causes|led to|leads to|drove|motivated|prompted|happened|happens)\b"
    r"|^what (is|was|are|were|will be|would be) (the )?(main |primary |likely )?(reasons?|causes?|purposes?|effects?|"
    r"impacts?|results?|consequences?|significance|motives?|goals?|aims?|role|point|implications?)\b"
    r"|\b(affect|impact|influence)(ed|s)?\b.*\?$",
    re.I,
)
_NUMBER_WORDS = r"(two|three|four|five|six|seven|eight|nine|ten|\d+|some|several|other|many|various)"
_LIST = re.compile(
    r"^(list|name|enumerate|give( me)? (a list|all|some|examples|the names))\b"
    r"|^(what|which) (are|were) (the |all |some )?(main |key |different |other )?\w+s\b(?! of the (name|date))"
    rf"|^(what|which) (are|were) (the )?{_NUMBER_WORDS}\b"
    r"|\b(all the|each of the|types of|kinds of|examples of|which ones)\b"
    r"|^(what|which) (?!(does|is|was|has|this|its|his)\b)\w+(ies|[^sui]s) (?!of\b)\w+"
    r"|^(what|which) (?:[\w-]+ ){1,2}?(?!(does|is|was|has)\b)\w+(ies|[^sui]s) (are|were|is|was|has|have|do|did)\b"
    r"|\b(what|which) other \w+(ies|[^sui]s)\b"
    r"|^who (are|were) (the |all )",
    re.I,
)
# "What are X known as / attached to / honored with?": one fact about X, not a list of them.
_FACT_ABOUT_PLURAL = re.compile(r"^(what|which) (are|were) .+\b(\w+ed|known|called|named|made|given|held|built|paid)"
                                r"( (as|to|by|for|with|in|on|from|of))?\??$", re.I)
# "What are clades?": a bare plural thing asked about (no article, no participle or preposition): a description.
_BARE_PLURAL = re.compile(r"^what (are|were) (?!(the|some|all|other|these|those|they)\b)"
                          r"(?!.*\b(\w+ed|to|of|in|for|with|by|on|at|from)\b)(?:[\w'’-]+ ){0,2}[\w'’-]+\??$", re.I)
# Two named things' comparatives given as choices: "faster or slower", "more or fewer members".
_COMPARATIVE_OPTIONS = re.compile(r"\b(?P<a>\w+er|more \w+|less \w+|earlier|later)\s+or\s+"
                                  r"(?P<b>\w+er|more \w+|less \w+|earlier|later)\b", re.I)
# "The youngest daughter of Lady X stars in what film?": the subject is someone the question only describes.
_DESCRIBED_SUBJECT = re.compile(
    r"^(the|a|an) (?:[\w'’-]+ ){0,2}(daughter|son|wife|husband|father|mother|brother|sister|founder|director|author|"
    r"creator|owner|winner|leader|successor|predecessor) of\b", re.I)
_DESCRIPTION = re.compile(r"^(?:who|what)(?:'s| is| was| are| were) (?P<subject>[^?]{1,80}?)\??$", re.I)
_TELL_ABOUT = re.compile(r"^(?:tell me (?:more )?about|describe|what do (?:you|the documents) (?:know|say) about|"
                         r"who (?:is|was) this) (?P<subject>[^?]{1,80}?)[.?]?$", re.I)
# "the X of ..." asks for a fact (the name, the date, the capital of something), not for a description.
_LOOKUP_NOUN = re.compile(
    r"^(the |an? )?([\w'’-]+ ){0,3}(of|in|for|on|at|from|between|behind)\b"
    r"|^(the |an? )?(name|date|year|number|amount|capital|population|title|size|price|cost|age|height|length|"
    r"distance|area|score|result|total|percentage|rate|time|address)\b", re.I)
# A relative clause or a nested "of the <noun>" describes what the question is really about: two steps.
_RELATIVE = re.compile(r"\b(the|a|an|this|that)\s+(?:[\w'’-]+\s+){0,4}?(who|whom|whose|which|that|where)\s+\w+", re.I)
_NESTED = re.compile(r"\b(the|a)\s+(?:[\w'’-]+\s+){0,2}(of|by|for|from|in|starring|featuring|founded by|"
                     r"directed by|written by)\s+(the|a|an)\s+(?:[\w'’-]+\s+){0,3}?"
                     r"(film|movie|band|album|song|book|novel|company|team|show|series|city|country|person|man|"
                     r"woman|actor|actress|singer|player|author|writer|director|group|university|school|magazine|"
                     r"newspaper|station|game|organization|organisation|party|club|agency|character|program|programme|episode|conference|county|river|island|building|hotel|league)\b", re.I)
_OPTIONS_AFTER_COMMA = re.compile(r",\s*(?P<a>[^,?]+?)\s+or\s+(?P<b>[^,?]+?)\s*\??$", re.I)
_OPTIONS_ANYWHERE = re.compile(
    r"(?P<a>(?:the\s+)?[A-Z0-9][\w.'’&-]*(?:\s+(?:of|the|and|de|la|[A-Z0-9][\w.'’&-]*))*)\s+or\s+"
    r"(?P<b>(?:the\s+)?[A-Z0-9][\w.'’&-]*(?:\s+(?:of|the|de|la|[A-Z0-9][\w.'’&-]*))*)")
_CAPITAL = r"(?:[A-Z0-9]|(?![a-zß-ÿ])[^\W\d_])"  # a capital letter, "Ü" and "Ł" too, or a digit
_JOINERS = "of|the|of the|de|la|by"  # small words inside a name ("Bank of England")


def _named(joiners: str = _JOINERS) -> str:
    return rf"(?:\"[^\"]+\"|“[^”]+”|{_CAPITAL}[\w.'’&-]*(?:\s+(?:(?:{joiners})\s+)?{_CAPITAL}[\w.'’&-]*)*)"


_NAMED = _named()
_TWO_SUBJECTS = re.compile(
    r"^(?P<aux>(?i:is|are|was|were|do|does|did|have|has|had|both))\s+(?i:both\s+)?(?i:the\s+)?(?:[a-z]+\s+)?"
    rf"(?P<a>{_NAMED})\s+and\s+(?:the\s+)?(?P<b>{_NAMED})")
_SINGULAR_AUX = {"are": "is", "were": "was", "do": "does", "have": "has"}
# "What profession do A and B have in common?", "A and B are both what?": a fact stated of two named things.
_SHARED = re.compile(r"\b(in common|both|shared?|shares)\b", re.I)
_PAIR_NAMED = _named(_JOINERS + r"|for|v\.|vs\.")  # "Roe v. Wade", "Mississippi University for Women"
_PAIR = re.compile(rf"(?P<a>{_PAIR_NAMED})\s+and\s+(?:the\s+)?(?P<b>{_PAIR_NAMED})")
_WHICH_ONE = re.compile(r"\bwhich (one|of (the two|them|these|those))\b", re.I)
_BETWEEN = re.compile(r"\b(?:difference|differences|compare|comparison)\b.*?\b(?:between|of)?\s*(?P<a>[^,?]+?)\s+"
                      r"(?:and|with|to|vs\.?|versus)\s+(?P<b>[^,?]+?)\s*\??$", re.I)
_PRONOUN = re.compile(r"\b(he|she|they|him|her|them|his|hers|their|its|it)\b", re.I)
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w’'-]+(?:\s+(?:de|del|la|van|von|da|of|the)?\s*[A-Z][\w’'-]+)*)")


@dataclass(frozen=True)
class Question:
    text: str
    kind: Kind
    options: tuple[str, ...] = ()  # comparison: the named things; yes/no about two things: both
    subject: str = ""  # description / overview: what it is about
    claim: bool = False  # a statement to check rather than a question


def _first_word(text: str) -> str:
    match = re.match(r"[\w'’]+", text)
    return match.group().lower().replace("’", "'") if match else ""


def _clean_option(text: str) -> str:
    text = re.sub(r"^(the|a|an)\s+", "", text.strip(" \"'“”‘’"), flags=re.I)
    return text.strip(" \"'“”‘’.")


# "Is it abstract or concrete?", "Was the result positive or negative?": a question opened by "is / are / was / were"
# that ends in two one-word alternatives asks which of them holds, not yes or no ("or not" is yes or no).
_ALTERNATIVES = re.compile(r"^(is|are|was|were)\b.*?\s(?:(?:a|an|the)\s+)?(?P<a>[\w-]+)\s+or\s+"
                           r"(?:(?:a|an|the)\s+)?(?P<b>(?!(?:not|no|neither|otherwise|else|none)\b)[\w-]+)\s*\?$", re.I)


def _options(text: str) -> tuple[str, ...]:
    for pattern in (_OPTIONS_AFTER_COMMA, _OPTIONS_ANYWHERE, _COMPARATIVE_OPTIONS, _ALTERNATIVES):
        match = pattern.search(text)
        if match:
            a, b = _clean_option(match.group("a")), _clean_option(match.group("b"))
            if a and b and a.lower() != b.lower():
                return a, b
    return ()


def is_claim(question: str) -> bool:
    """A statement to check ("Kilauea's lava lake drained in 2018."): a sentence of four words or more, ended as a
    statement, that neither asks nor tells the assistant to do something. A bare phrase without a full stop
    ("rare earth minerals venezuela") is a search, not a claim."""
    text = " ".join(question.split())
    return text.endswith((".", "!")) and _first_word(text) not in _WH + _AUX and len(text.split()) >= 4


_CORPUS_NOUN = (r"(?:article|document|text|report|file|letter|mail|e-?mail|story|page|paper|note|source|collection|"
                r"corpus|folder|pdf)s?")
# "... named in the article?", "... mentioned in these documents?", "According to the report, ...": where to look, which
# is always the person's own documents. Said to the cross-encoder it sinks every sentence (logit -5.4 against 2.3 for
# the sentence naming the oil companies), so it is left out of what is searched and read.
_CORPUS_REFERENCE = re.compile(
    rf"\s+(?:in|from|within|by)\s+(?:the|this|these|those|that|my|our|your)\s+(?:\w+\s+)?{_CORPUS_NOUN}(?=\s*\?*$)"
    rf"|^according\s+to\s+(?:the|this|these|those|that|my|our|your)\s+(?:\w+\s+)?{_CORPUS_NOUN}\s*,\s*", re.I)


def without_corpus_reference(question: str) -> str:
    """The question without a closing "in the article" or an opening "According to the documents,": where to look
    is the documents anyway. A question that would be left with fewer than three words, or without what it asks
    ("How many pages are in the report?"), is kept whole."""
    stripped = _CORPUS_REFERENCE.sub("", question).strip()
    # "How many pages are in the report?" asks about the document itself: "How many pages are?" would ask nothing.
    if len(stripped.split()) < 3 or re.search(r"\b(is|are|was|were|there|exist|exists)\s*\?*$", stripped, re.I):
        return question
    return stripped[:1].upper() + stripped[1:]


@lru_cache(maxsize=1024)  # the reader, the evaluation and follow-ups ask again: read once per question
def classify(question: str) -> Question:
    """The kind of a (cleaned) question, with the named things a comparison weighs."""
    text = " ".join(question.split())
    first = _first_word(text)
    if _OVERVIEW.search(text):
        return Question(text, "overview")
    if " or " in text and (first in ("which", "who", "whose", "what") or first in _AUX):
        options = _options(text)
        if options:
            return Question(text, "comparison", options)
    if first in ("which", "who", "whose") and re.search(r",\s*[^,]+\s+and\s+[^,]+\?$", text):
        match = re.search(r",\s*(?P<a>[^,]+?)\s+and\s+(?P<b>[^,]+?)\s*\?$", text)
        return Question(text, "comparison", (_clean_option(match.group("a")), _clean_option(match.group("b"))))
    if first in ("compare",) or re.search(r"\b(difference|differences) between\b", text, re.I):
        match = _BETWEEN.search(text)
        options = (_clean_option(match.group("a")), _clean_option(match.group("b"))) if match else ()
        return Question(text, "comparison", options)
    if first in _AUX or first == "both" and not re.search(r"\b(who|what|which|when|where|how)\b", text, re.I):
        match = _TWO_SUBJECTS.match(text)
        options = (_clean_option(match.group("a")), _clean_option(match.group("b"))) if match else ()
        return Question(text, "yesno", options)
    if is_claim(text):
        return Question(text, "yesno", claim=True)
    if _REASON.search(text):
        return Question(text, "reason")
    if _BARE_PLURAL.match(text):
        return Question(text, "description", subject=re.sub(r"^what (are|were) |\?$", "", text, flags=re.I))
    if _LIST.search(text) and not _FACT_ABOUT_PLURAL.match(text):
        return Question(text, "list")
    for pattern in (_TELL_ABOUT, _DESCRIPTION):
        match = pattern.match(text)
        if match:
            subject = match.group("subject").strip()
            # "Who is the mayor", "Who is acting as president", "What is the company called": a fact looked up.
            # "Who was Emma's brother", "Who was awarded the prize": a fact looked up too.
            looked_up = (first == "who" and subject.lower().startswith(("the ", "a ", "an "))
                         or re.match(r"([a-z]+(ing|ed)|born)\b", subject) is not None
                         or re.search(r"[\w’']+(['’]s|s['’]) \w+", subject) is not None
                         or re.search(r"\b\w+ed (with|by|for|to|as)$", subject) is not None
                         or re.search(r"\b(called|named|known as|now|today|currently)$", subject) is not None)
            if len(subject.split()) <= 7 and not _LOOKUP_NOUN.search(subject) and not looked_up or pattern is _TELL_ABOUT:
                return Question(text, "description", subject=subject)
    pair = _PAIR.search(text) if _SHARED.search(text) or _WHICH_ONE.search(text) else None
    if pair is not None:
        options = tuple(re.sub(r"^both\s+", "", _clean_option(pair.group(n)), flags=re.I) for n in "ab")
        if all(options) and options[0].lower() != options[1].lower():
            # "A and B were both mines ...; which one yielded ...?" picks one of them; else what they share.
            return Question(text, "comparison" if _WHICH_ONE.search(text) else "fact", options)
    if _RELATIVE.search(text[4:]) or _described(text) or _DESCRIBED_SUBJECT.match(text):
        return Question(text, "two-step")
    return Question(text, "fact")


def _described(text: str) -> bool:
    """A thing named only by description ("the director of the film that won"), not by name ("the Avatar movie")."""
    for match in _NESTED.finditer(text):
        filler = text[match.start(3):match.start(4)].split()[1:]
        if not any(word[:1].isupper() for word in filler):
            return True
    return False


def about_one(question: str, option: str) -> str:
    """A yes/no question about two named things asked of one of them ("Are Hot Rod and Vibe both magazines?" reads
    "Is Hot Rod magazines?" for Hot Rod): a small model settles one thing far better than two at once. A question
    not of that form comes back unchanged."""
    text = " ".join(question.split())
    match = _TWO_SUBJECTS.match(text)
    if not match:
        return text
    aux = match.group("aux")
    rest = text[match.end("b"):].lstrip("\"”")
    rest = re.sub(r"^(\s*)both\b\s*", r"\1", rest, flags=re.I)
    if aux.lower() == "both":  # "Both A and B are ...?" -> "A is ...?"
        rest = re.sub(r"^\s*(are|were|do|have)\b", lambda m: " " + _SINGULAR_AUX[m.group(1).lower()], rest, flags=re.I)
        return f"{option}{rest}"
    head = _SINGULAR_AUX.get(aux.lower(), aux.lower()).capitalize()
    return f"{head} {option} {rest.strip()}".replace(" ?", "?")


def resolve_followup(question: str, history: Sequence[str]) -> str:
    """A follow-up's pronoun replaced by the name the previous question was about ("What did she sign?" after
    "Who is Delcy Rodríguez?" reads "What did Delcy Rodríguez sign?"); other questions come back unchanged."""
    if not history or not _PRONOUN.search(question):
        return question
    previous = history[-1]
    asked = classify(previous)
    names = [asked.subject] if asked.kind == "description" and asked.subject[:1].isupper() else []
    names += [m.group(1) for m in _NAME.finditer(previous)]
    names = [n for n in names if n and n.lower() not in question.lower()]
    if not names:
        return question
    name = max(names, key=lambda n: len(n.split()))

    def swap(match: re.Match) -> str:
        word = match.group(1).lower()
        if word in ("his", "hers", "their", "its"):
            return f"{name}'s"
        if word in ("her",):  # "her" is both "of her" and "to her": the possessive reads well in either place
            return f"{name}'s" if re.match(r"\s+[a-z]", question[match.end():]) else name
        return name

    return _PRONOUN.sub(swap, question, count=1)
