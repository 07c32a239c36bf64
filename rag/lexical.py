"""BM25 over chunk texts (bm25s, English stop words, Snowball stemming), persisted beside the vectors.

Row i of the BM25 index is chunk i, as for FAISS. It is rebuilt from the chunk texts whenever the chunks change:
that costs milliseconds per thousand chunks, against seconds to embed them, so there is nothing to gain from
patching it in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

_STEMMER = None


def _stemmer():
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


class LexicalIndex:
    def __init__(self, model, size: int):
        self._model = model
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> "LexicalIndex":
        import bm25s

        if not texts:
            return cls(None, 0)
        model = bm25s.BM25()
        model.index(tokenize(texts), show_progress=False)
        return cls(model, len(texts))

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Up to k (row, BM25 score) pairs with a positive score, best first."""
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        if self._model is None or k <= 0:
            return [[] for _ in queries]
        vocab = self._model.vocab_dict
        results: list[list[tuple[int, float]]] = []
        for tokens in tokenize(queries):
            known = [t for t in tokens if t in vocab]
            if not known:
                results.append([])
                continue
            rows, scores = self._model.retrieve([known], k=min(k, self.size), show_progress=False, n_threads=1)
            results.append([(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0])
        return results

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "size.json").write_text(json.dumps({"rows": self.size}), encoding="utf-8")
        if self._model is not None:
            self._model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        size = json.loads((folder / "size.json").read_text(encoding="utf-8"))["rows"]
        if size == 0:
            return cls(None, 0)
        return cls(bm25s.BM25.load(str(folder), show_progress=False, verbosity=0), size)
