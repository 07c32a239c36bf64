"""Connecting to Milvus (one client per location and process, calls whose failures say what to do) and the layout
of the four collections a store keeps there (see rag.stores.milvus_store)."""

from __future__ import annotations

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


def collection_layouts(dimension: int) -> dict:
    """part -> (schema, index params) of each collection. Exact search (FLAT) keeps parity with the folder index; a
    server can be given IVF/HNSW indexes for large collections (README, Scaling out)."""
    from pymilvus import DataType, MilvusClient

    text = (DataType.VARCHAR, {"max_length": MAX_VARCHAR})
    short = (DataType.VARCHAR, {"max_length": 256})
    number = (DataType.INT64, {})
    fields = {
        "chunks": ([("chunk_id", *short), ("doc_id", *short), ("gen", *number), ("start", *number),
                    ("end", *number), ("text", *text)], dimension),
        "documents": ([("source", DataType.VARCHAR, {"max_length": 4096}), ("doc_id", *short), ("gen", *number),
                       ("deleted", DataType.BOOL, {}), ("title", DataType.VARCHAR, {"max_length": 4096}),
                       ("meta", *text), ("chars", *number)], dimension),
        "texts": ([("doc_id", *short), ("part", *number), ("text", *text)], DUMMY_DIM),
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
        layouts[part] = (schema, index)
    return layouts
