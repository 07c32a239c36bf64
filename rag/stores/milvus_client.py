"""Connecting to Milvus (one client per location and process, calls whose failures say what to do) and the layout
of the four collections a store keeps there (see rag.stores.milvus_store)."""

from __future__ import annotations

import json

from rag.errors import RagError

CONNECT_SECONDS = 10
CALL_SECONDS = 20  # whole seconds: pymilvus bounds its retries by an int timeout only


class MilvusUnavailableError(RagError):
    """Milvus cannot be reached or refused a request."""


def _call(client, where, method: str, *args, **kwargs):
    """A MilvusClient call whose failure becomes a MilvusUnavailableError that says what to do. A collection a
    restarted server has not loaded yet is loaded, and the call made again."""
    kwargs.setdefault("timeout", CALL_SECONDS)  # pymilvus otherwise retries an unreachable server for minutes
    for attempt in range(2):
        try:
            return getattr(client, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds for one failure
            if attempt == 0 and "not loaded" in str(exc) and args:
                try:
                    client.load_collection(args[0], timeout=CALL_SECONDS)
                    continue
                except Exception:  # noqa: BLE001 - reported below as the original failure
                    pass
            if where.is_server:  # reconnect next time (a Lite file keeps its one client)
                _forget_client(where.target.partition("#")[0])
            raise MilvusUnavailableError(f"Milvus at {where} failed on {method} ({_reason(exc)})",
                                         hint=_UNREACHABLE_HINT) from exc


_UNREACHABLE_HINT = ("for a server: check that it is running and reachable; for a milvus:PATH.db file: check that its "
                     "folder exists and no other program has the file open; then try again")
_CLIENTS: dict[str, object] = {}


def _client_cache(target: str, factory):
    """One client per location and process: Milvus Lite allows one opener of a file, and clients are costly."""
    client = _CLIENTS.get(target)
    if client is None:
        import logging

        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # its failures reach the user as MilvusUnavailableError
        client = factory(target, timeout=CONNECT_SECONDS) if target.startswith(("http", "tcp", "unix")) else factory(target)
        _CLIENTS[target] = client
    return client


def _forget_client(target: str) -> None:
    _CLIENTS.pop(target, None)


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


MAX_VARCHAR = 65_535
DUMMY_DIM = 2  # collections without a vector of their own still need one vector field


# How Milvus turns text into BM25 terms when it computes BM25 itself: words lower-cased, English stop words dropped,
# the rest stemmed (Snowball), as the client-side BM25 does (rag.lexical).
ANALYZER = {"tokenizer": "standard",
            "filter": ["lowercase", {"type": "stop", "stop_words": ["_english_"]}, {"type": "stemmer", "language": "english"}]}
LEXICAL_PARTS = ("chunks", "texts")  # the collections whose text Milvus indexes for BM25, when it can


def collection_layouts(dimension: int, server_bm25: bool = False) -> dict:
    """part -> (schema, index params) of each collection. Exact search (FLAT) keeps parity with the folder index; a
    server can be given IVF/HNSW indexes for large collections (docs/scaling.md). With `server_bm25` (Milvus
    2.5+), the text of chunks and of document parts is analyzed and a BM25 function fills a sparse `lexical` field
    that Milvus searches itself."""
    from pymilvus import DataType, MilvusClient

    text = (DataType.VARCHAR, {"max_length": MAX_VARCHAR})
    analyzed = (DataType.VARCHAR, {"max_length": MAX_VARCHAR, "enable_analyzer": True, "analyzer_params": ANALYZER})
    short = (DataType.VARCHAR, {"max_length": 256})
    number = (DataType.INT64, {})
    lexical_text = analyzed if server_bm25 else text
    fields = {
        "chunks": ([("chunk_id", *short), ("doc_id", *short), ("gen", *number), ("start", *number),
                    ("end", *number), ("text", *lexical_text)], dimension),
        "documents": ([("source", DataType.VARCHAR, {"max_length": 4096}), ("doc_id", *short), ("gen", *number),
                       ("deleted", DataType.BOOL, {}), ("title", DataType.VARCHAR, {"max_length": 4096}),
                       ("meta", *text), ("chars", *number)], dimension),
        "texts": ([("doc_id", *short), ("part", *number), ("text", *lexical_text)], DUMMY_DIM),
        "meta": ([("value", *text)], DUMMY_DIM),
    }
    layouts = {}
    for part, (columns, vector_dim) in fields.items():
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("bucket", DataType.INT64)
        for name, kind, extra in columns:
            schema.add_field(name, kind, **extra)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=vector_dim)
        index = MilvusClient.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        if server_bm25 and part in LEXICAL_PARTS:
            _add_bm25(schema, index)
        layouts[part] = (schema, index)
    return layouts


def _add_bm25(schema, index) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema.add_field("lexical", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["lexical"]))
    index.add_index("lexical", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")


def create_chunks_with_bm25(store) -> bool:
    """Whether this server computes BM25 itself: the store's chunks collection is created with a BM25 function,
    which a server older than 2.5 refuses (then the collections are created without, and BM25 is the client's)."""
    import logging

    schema, index = collection_layouts(store.info.dimension, server_bm25=True)["chunks"]
    try:
        store.client.create_collection(store.names["chunks"], schema=schema, index_params=index,
                                       consistency_level="Strong", timeout=CALL_SECONDS)
        return True
    except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds; an unreachable server fails below
        logging.getLogger("rag.stores").info("Milvus at %s does not compute BM25 (%s): BM25 is built by each reader",
                                             store.location, _reason(exc))
        if store.call("has_collection", store.names["chunks"]):
            store.call("drop_collection", store.names["chunks"])
        return False


def has_bm25(store) -> bool:
    """Whether the store's collections were created with Milvus's BM25 (a `lexical` field)."""
    return all(any(field.get("name") == "lexical" for field in store.call("describe_collection", store.names[part])
                   .get("fields", [])) for part in LEXICAL_PARTS)


def _meta_json(meta) -> str:
    """A document's metadata as JSON that fits one VARCHAR: page offsets of a huge PDF are dropped first, then
    everything but the short values (the answer never depends on them; the page number shown does)."""
    meta = dict(meta)
    for candidate in (meta, {k: v for k, v in meta.items() if k != "pages"},
                      {k: v for k, v in meta.items() if isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) < 1000)}):
        text = json.dumps(candidate, ensure_ascii=False, default=str)
        if len(text.encode("utf-8")) <= MAX_VARCHAR:
            return text
    return "{}"
