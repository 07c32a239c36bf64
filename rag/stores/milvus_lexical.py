"""BM25 computed by Milvus itself (2.5 and later): the chunks and the document parts of a Milvus store are searched
by their analyzed text, so no process builds or holds a BM25 index of its own (see rag.stores.milvus_store).

Milvus scores with its own analyzer (`rag.stores.milvus_client.ANALYZER`: lower-cased words, English stop words
dropped, Snowball stems, as the client-side BM25 does) and counts its statistics over every row it holds, so scores
differ a little from bm25s's; docs/scaling.md gives the measured difference. A document's score is that of its
best part (parts of at most TEXT_PART characters: most documents are one part).
"""

from __future__ import annotations

import re
from typing import Sequence

from rag.stores.milvus_vectors import EXTRA_ROWS, QUERY_LIMIT, current_chunks

_WORD = re.compile(r"\w")


class MilvusLexical:
    def __init__(self, store):
        self._store = store

    def chunks(self, queries: Sequence[str], k: int, condition: str) -> list[list[tuple[str, float]]]:
        """Per query, up to k (chunk_id, BM25 score) among the rows `condition` selects, best first."""
        return [current_chunks(self._store, rows, k)
                for rows in self._search("chunks", queries, k + EXTRA_ROWS, condition, ["chunk_id", "doc_id", "gen"])]

    def documents(self, queries: Sequence[str], k: int, condition: str) -> list[list[tuple[str, float]]]:
        """Per query, up to k (doc_id, BM25 score of its best part) among the visible documents, best first. Parts
        carry no generation (a document's text never changes under its id): documents not visible are skipped."""
        store, out = self._store, []
        for rows in self._search("texts", queries, 4 * k + EXTRA_ROWS, condition, ["doc_id"]):
            best: dict[str, float] = {}
            for row in rows:
                doc_id = row["entity"]["doc_id"]
                if store.generation_of(doc_id) is not None and doc_id not in best:
                    best[doc_id] = float(row["distance"])  # rows come best first
            out.append(sorted(best.items(), key=lambda pair: -pair[1])[:k])
        return out

    def _search(self, part: str, queries: Sequence[str], limit: int, condition: str, fields: list[str]) -> list[list[dict]]:
        """Milvus's BM25 hits per query; a query without a word finds nothing (and is not sent)."""
        asked = [i for i, q in enumerate(queries) if _WORD.search(q)]
        results: list[list[dict]] = [[] for _ in queries]
        if not asked or limit <= 0:
            return results
        found = self._store.call(
            "search", self._store.names[part], data=[queries[i] for i in asked], anns_field="lexical",
            limit=min(QUERY_LIMIT, limit), filter=condition, output_fields=fields,
            search_params={"metric_type": "BM25"}, consistency_level="Strong")
        for i, rows in zip(asked, found):
            results[i] = list(rows)
        return results
