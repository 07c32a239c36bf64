"""BM25 over chunk texts and whole documents (bm25s, English stop words, Snowball stemming).

Each index keeps the ids of what it indexed and answers with them (chunk_id or doc_id), so retrieval joins on ids.
It is derived from the catalog and rebuilt whenever the documents change: bm25s has no incremental update, and
rebuilding costs far less than embedding the new chunks.
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
    def __init__(self, model, ids: Sequence[str]):
        self._model = model
        self.ids = list(ids)
        self.size = len(self.ids)

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> "LexicalIndex":
        import bm25s

        if not texts:
            return cls(None, [])
        model = bm25s.BM25()
        model.index(tokenize(texts), show_progress=False)
        return cls(model, ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Up to k (id, BM25 score) pairs with a positive score, best first."""
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
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
            results.append([(self.ids[int(r)], float(s)) for r, s in zip(rows[0], scores[0]) if s > 0])
        return results

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        if self._model is not None:
            self._model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        if not ids:
            return cls(None, [])
        return cls(bm25s.BM25.load(str(folder), show_progress=False, verbosity=0), ids)


class Lexical:
    """The two BM25 indexes retrieval uses: over chunks (chunk_ids) and over whole documents (doc_ids)."""

    def __init__(self, chunks: LexicalIndex, documents: LexicalIndex):
        self.chunks = chunks
        self.documents = documents

    @classmethod
    def build(cls, catalog) -> "Lexical":
        chunks = catalog.chunks()
        docs = list(catalog.documents.values())
        return cls(LexicalIndex.build([c.chunk_id for c in chunks], [c.text for c in chunks]),
                   LexicalIndex.build([d.doc_id for d in docs], [d.text for d in docs]))

    def save(self, folder: Path) -> None:
        self.chunks.save(folder / "chunks")
        self.documents.save(folder / "documents")

    @classmethod
    def load(cls, folder: Path) -> "Lexical":
        return cls(LexicalIndex.load(folder / "chunks"), LexicalIndex.load(folder / "documents"))
