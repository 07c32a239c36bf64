"""BM25 over chunk texts and whole documents (bm25s, English stop words, Snowball stemming).

Each index keeps the ids of what it indexed and answers with them (chunk_id or doc_id), so retrieval joins on ids.
It is derived from the catalog and rebuilt whenever the documents change (bm25s has no incremental update), but
every text's tokens are kept beside it (in memory and on disk), so a rebuild tokenizes only the new texts: stemming
is half the cost of a rebuild.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.arrays import READING, load, text, utf8

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
    def __init__(self, model, ids: Sequence[str], tokens: list[list[str]] | None = None, folder: Path | None = None):
        self._model = model
        # The ids as one UTF-8 array (memory-mapped when read from a generation), not a list of strings.
        self.ids = ids if isinstance(ids, np.ndarray) else utf8(ids)
        self.size = len(self.ids)
        self._tokens = tokens  # each id's tokens, in order; read from `folder` on first need
        self._folder = folder

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], previous: "LexicalIndex | None" = None) -> "LexicalIndex":
        """BM25 over `texts`; tokens of ids `previous` already holds are reused, the others tokenized."""
        import bm25s

        if not texts:
            return cls(None, [], [])
        known = previous.tokens_by_id() if previous is not None else {}
        todo = [i for i, key in enumerate(ids) if key not in known]
        fresh = dict(zip(todo, tokenize([texts[i] for i in todo]))) if todo else {}
        tokens = [fresh[i] if i in fresh else known[key] for i, key in enumerate(ids)]
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        return cls(model, ids, tokens)

    def tokens_by_id(self) -> dict[str, list[str]]:
        if self._tokens is None:
            self._tokens = _read_tokens(self._folder) if self._folder is not None else None
        if self._tokens is None:
            return {}
        return dict(zip((key.decode("utf-8") for key in self.ids.tolist()), self._tokens))

    def search(self, query: str, k: int, allowed: frozenset[str] | None = None) -> list[tuple[str, float]]:
        """Up to k (id, BM25 score) pairs with a positive score, best first; only ids in `allowed` when given."""
        return self.search_many([query], k, allowed)[0]

    def search_many(self, queries: Sequence[str], k: int,
                    allowed: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        if self._model is None or k <= 0:
            return [[] for _ in queries]
        mask = None
        if allowed is not None:  # scored among the allowed ids only: the filter comes before the ranking
            mask = np.isin(self.ids, utf8(allowed)).astype(np.float32)
            k = min(k, int(mask.sum()))
            if k <= 0:
                return [[] for _ in queries]
        vocab = self._model.vocab_dict
        results: list[list[tuple[int, float]]] = []
        for tokens in tokenize(queries):
            known = [t for t in tokens if t in vocab]
            if not known:
                results.append([])
                continue
            rows, scores = self._model.retrieve([known], k=min(k, self.size), show_progress=False, n_threads=1,
                                                weight_mask=mask)
            results.append([(text(self.ids, int(r)), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0])
        return results

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "ids.npy", self.ids)
        if self._model is not None:
            self._model.save(str(folder), show_progress=False)
            tokens = self._tokens if self._tokens is not None else _read_tokens(self._folder)
            if tokens is not None:
                _write_tokens(folder, tokens)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        if (folder / "ids.npy").is_file():
            ids = load(folder / "ids.npy", mapped=True)
        else:  # written by format 2
            ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        if not len(ids):
            return cls(None, [], [])
        # Memory-mapped: the score matrix is read through the page cache, not copied into this process.
        with READING:  # bm25s reads .npy files too
            model = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0, mmap=True)
        return cls(model, ids, folder=folder)


def _write_tokens(folder: Path, tokens: list[list[str]]) -> None:
    """Tokens as a vocabulary and one int32 array with offsets: compact, and read back without parsing text."""
    from itertools import chain

    import numpy as np

    vocabulary = {token: number for number, token in enumerate(dict.fromkeys(chain.from_iterable(tokens)))}
    flat = np.fromiter(map(vocabulary.__getitem__, chain.from_iterable(tokens)), dtype=np.int32)
    offsets = np.cumsum([0] + [len(row) for row in tokens], dtype=np.int64)
    (folder / "tokens-vocabulary.json").write_text(json.dumps(list(vocabulary), ensure_ascii=False), encoding="utf-8")
    np.save(folder / "tokens.npy", flat)
    np.save(folder / "tokens-offsets.npy", offsets)


def _read_tokens(folder: Path | None) -> list[list[str]] | None:
    import numpy as np

    if folder is None or not (folder / "tokens.npy").is_file():
        return None  # written before tokens were kept: the next rebuild tokenizes everything once
    vocabulary = np.array(json.loads((folder / "tokens-vocabulary.json").read_text(encoding="utf-8")), dtype=object)
    words = vocabulary[load(folder / "tokens.npy")] if len(vocabulary) else np.zeros(0, dtype=object)
    offsets = load(folder / "tokens-offsets.npy").tolist()
    return [words[start:end].tolist() for start, end in zip(offsets, offsets[1:])]


class Lexical:
    """The two BM25 indexes retrieval uses: over chunks (chunk_ids) and over whole documents (doc_ids)."""

    def __init__(self, chunks: LexicalIndex, documents: LexicalIndex):
        self.chunks = chunks
        self.documents = documents

    @classmethod
    def build(cls, catalog, previous: "Lexical | None" = None) -> "Lexical":
        chunks = catalog.chunks()
        docs = catalog.document_list()
        return cls(LexicalIndex.build([c.chunk_id for c in chunks], [c.text for c in chunks],
                                      previous.chunks if previous else None),
                   LexicalIndex.build([d.doc_id for d in docs], [d.text for d in docs],
                                      previous.documents if previous else None))

    def save(self, folder: Path) -> None:
        self.chunks.save(folder / "chunks")
        self.documents.save(folder / "documents")

    @classmethod
    def load(cls, folder: Path) -> "Lexical":
        return cls(LexicalIndex.load(folder / "chunks"), LexicalIndex.load(folder / "documents"))
