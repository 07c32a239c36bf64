"""`rag bench scale`: the vector stores at scale on synthetic clustered vectors (FAISS IVF in memory, IVF-PQ on
disk, Milvus), and replacing one document in a large folder index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rag.bench.common import _rss_mib, machine, stats


def synthetic_vectors(n: int, dim: int, seed: int, clusters: int = 2000) -> np.ndarray:
    """Unit vectors around random topic centres: embedding-like structure rather than uniform noise. Above two
    million they are made in blocks (same distribution, other draws), so that the float64 noise fits in memory."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    if n <= 2_000_000:
        vectors = centres[rng.integers(0, clusters, n)] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 500_000):
        size = min(500_000, n - start)
        block = centres[rng.integers(0, clusters, size)] + 0.8 * rng.standard_normal((size, dim), dtype=np.float32)
        out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def _timed_search(search, probes: np.ndarray, k: int) -> tuple[list[float], list[np.ndarray]]:
    latencies, found = [], []
    for row in range(len(probes)):
        started = time.perf_counter()
        ids = search(probes[row : row + 1], k)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(np.asarray(ids))
    return latencies, found


def _recall(found: list[np.ndarray], truth: np.ndarray, k: int) -> float:
    return round(float(np.mean([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth)])), 4)



def bench_scale(sizes: Sequence[int] = (1_000_000,), *, dim: int = 384, queries: int = 200, seed: int = 13,
                milvus: Sequence[str] = (), work: Path | None = None, replace_chunks: int = 100_000,
                memory_index: bool = True, opened_chunks: int | None = None,
                log: Callable[[str], None] = print) -> dict:
    """The vector stores at scale on synthetic clustered vectors: build time, memory, latency, recall@100 against
    exact search. FAISS in memory (IVF-Flat, as the store builds it) and on disk (IVF-PQ lists in an .ivfdata file,
    searched by a fresh process whose resident memory is reported); Milvus locations given in `milvus` too."""
    import faiss

    from rag.stores import faiss_store

    work = Path(work or tempfile.mkdtemp(prefix="rag-scale-"))
    rows = []
    for n in sizes:
        log(f"{n:,} vectors: generating")
        data = synthetic_vectors(n + queries, dim, seed)
        base, probes, ids = data[:n], data[n:], np.arange(n, dtype=np.int64)
        exact = faiss.IndexFlatIP(dim)
        exact.add(base)
        _, truth = exact.search(probes, 100)
        del exact
        if memory_index:
            rows.extend(_ivf_rows(base, ids, probes, truth, log))
        log(f"{n:,} vectors: IVF-PQ on disk")
        folder = work / f"ondisk-{n}"
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        sample = base[np.sort(np.random.default_rng(0).choice(n, size=min(n, 40 * faiss_store.list_count(n)), replace=False))]
        batches = ((base[i : i + 262_144], ids[i : i + 262_144]) for i in range(0, n, 262_144))
        index = faiss_store.OnDiskBase.build(batches, dim, n, folder, sample=sample)
        build_s = time.perf_counter() - started
        disk = sum(p.stat().st_size for p in index.files)
        np.save(folder / "probes.npy", probes)
        np.save(folder / "truth.npy", truth)
        child = subprocess.run([sys.executable, "-c", "from rag.bench.scale import _ondisk_child; _ondisk_child()", str(folder)],
                               capture_output=True, text=True, check=True)
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        from rag.stores.faiss_ondisk import REFINE_FACTOR

        for run in measured["runs"]:
            rows.append({"vectors": n, "store": "faiss ivf-pq (on disk)", "setting": run["setting"],
                         "default": run["refine"] == REFINE_FACTOR, "build_s": round(build_s, 1),
                         "search_ms": run["search_ms"], "recall@100": run["recall@100"],
                         "resident_mib": measured["resident_mib"], "baseline_mib": measured["baseline_mib"],
                         "anon_mib": measured["anon_mib"], "file_mib": measured["file_mib"],
                         "disk_mib": round(disk / 2**20, 1), "bytes_per_vector": round(disk / n, 1)})
        del index
        shutil.rmtree(folder, ignore_errors=True)
        for location in milvus:
            rows.extend(_milvus_scale(location, base, probes, truth, log))
    replace = bench_replace(replace_chunks, dim=dim, log=log) if replace_chunks else None
    opened_chunks = replace_chunks if opened_chunks is None else opened_chunks
    opened = [bench_opened(location, opened_chunks, dim=dim, log=log) for location in milvus] if opened_chunks else []
    return {"benchmark": "scale", "machine": machine(), "dimension": dim, "queries": queries, "seed": seed, "rows": rows,
            "replace": replace, "opened": opened}


def _ivf_rows(base: np.ndarray, ids: np.ndarray, probes: np.ndarray, truth: np.ndarray, log) -> list[dict]:
    from rag.stores import faiss_store

    n, dim = base.shape
    log(f"{n:,} vectors: IVF-Flat in memory")
    started = time.perf_counter()
    ivf = faiss_store.build_ivf(base, ids)
    build_s = time.perf_counter() - started
    default, rows = ivf.nprobe, []
    for nprobe in sorted({max(1, default // 2), default, default * 2}):
        ivf.nprobe = nprobe
        latencies, found = _timed_search(lambda q, k: ivf.search(q, k)[1][0], probes, 100)
        rows.append({"vectors": n, "store": "faiss ivf-flat (memory)", "setting": f"nlist={ivf.nlist}, nprobe={nprobe}",
                     "default": nprobe == default, "build_s": round(build_s, 1), "search_ms": stats(latencies),
                     "recall@100": _recall(found, truth, 100), "bytes_per_vector": dim * 4 + 8})
    return rows


ONDISK_REFINE_FACTORS = (4, 10, 20)  # candidates re-scored, as multiples of k, measured side by side


def _ondisk_child() -> None:
    """Runs in a fresh process: open the on-disk index, ask the probes, print latency, recall and resident memory."""
    folder = Path(sys.argv[1])
    baseline = _rss_mib()
    from rag.stores.faiss_store import OnDiskBase

    base = OnDiskBase.open(folder)
    probes, truth = np.load(folder / "probes.npy"), np.load(folder / "truth.npy")
    index, results = base.index, []
    for refine in ONDISK_REFINE_FACTORS:
        latencies, found = _timed_search(lambda q, k: base.search(q, k, refine=refine)[1][0], probes, 100)
        results.append({"setting": f"nlist={index.nlist}, nprobe={index.nprobe}, {index.pq.M} bytes/code, "
                                   f"{refine}x candidates re-scored exactly", "refine": refine,
                        "search_ms": stats(latencies), "recall@100": _recall(found, truth, 100)})
    print(json.dumps({"runs": results, "resident_mib": _rss_mib(), "baseline_mib": baseline,
                      "anon_mib": _rss_mib("RssAnon"), "file_mib": _rss_mib("RssFile")}))


def _milvus_scale(location: str, base: np.ndarray, probes: np.ndarray, truth: np.ndarray, log) -> list[dict]:
    """Exact search (FLAT, what the store creates) and, on a server, an IVF_FLAT collection with the folder store's
    list and probe counts; each in a fresh collection (a 2.3 server may not reload a released collection)."""
    from pymilvus import DataType, MilvusClient

    from rag.stores.faiss_store import list_count, probes as probe_count

    target = location.removeprefix("milvus:")
    client = MilvusClient(target)
    kind = "lite" if location.startswith("milvus:") else "server"
    lists = list_count(len(base))
    variants = [("FLAT (exact; what the store creates)", "FLAT", {}, {})]
    if kind == "server":
        nprobe = probe_count(lists, len(base))
        variants.append((f"IVF_FLAT nlist={lists}, nprobe={nprobe}", "IVF_FLAT", {"nlist": lists}, {"nprobe": nprobe}))
    rows = []
    for setting, index_type, build_params, search_params in variants:
        name = f"rag_scale_bench_{index_type.lower()}"
        if client.has_collection(name):
            client.drop_collection(name)
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=base.shape[1])
        index = client.prepare_index_params()
        index.add_index("vector", index_type=index_type, metric_type="IP", params=build_params)
        client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
        log(f"{len(base):,} vectors: Milvus at {location}, {index_type}")
        started = time.perf_counter()
        for start in range(0, len(base), 5000):
            client.insert(name, [{"id": start + i, "vector": v} for i, v in enumerate(base[start : start + 5000].tolist())])
            if start % 200_000 == 0:
                log(f"  {start:,} inserted ({time.perf_counter() - started:.0f} s)")
        insert_s = time.perf_counter() - started
        params = {"metric_type": "IP", "params": search_params}
        latencies, found = _timed_search(
            lambda q, k: [hit["id"] for hit in client.search(name, data=q.tolist(), limit=k, search_params=params,
                                                             consistency_level="Strong")[0]], probes, 100)
        rows.append({"vectors": len(base), "store": f"milvus ({kind})", "setting": setting,
                     "default": index_type == "FLAT", "build_s": round(insert_s, 1), "search_ms": stats(latencies),
                     "recall@100": _recall([np.asarray(f) for f in found], truth, 100)})
        client.drop_collection(name)
    return rows


def _synthetic_corpus(chunks: int, dim: int, per_document: int, seed: int):
    """Documents of `per_document` twelve-word sentences, one chunk per sentence, each chunk's vector looked up by
    its text: (documents, document(number, version), Chunker, text -> vector, vectors)."""
    from rag.types import Chunk, Document

    rng = np.random.default_rng(seed)
    vocabulary = [f"term{i}" for i in range(20_000)]
    vectors = synthetic_vectors(chunks + per_document, dim, seed)
    words = rng.integers(0, len(vocabulary), size=(chunks + per_document, 12))

    def document(number: int, version: int) -> Document:
        rows = range(number * per_document, (number + 1) * per_document)
        text = " ".join(f"{' '.join(vocabulary[w] for w in words[r])} v{version}." for r in rows)
        return Document(f"{number:08d}-{version}", f"doc{number}.txt", f"doc {number}", text, {})

    class Chunker:  # one chunk per sentence, so each document has `per_document` chunks
        @staticmethod
        def chunk(doc: Document) -> list[Chunk]:
            out, start = [], 0
            for number, sentence in enumerate(doc.text.split(". ")):
                end = start + len(sentence)
                out.append(Chunk(f"{doc.doc_id}-{number}", doc.doc_id, start, end, doc.text[start:end]))
                start = end + 2
            return out

    lookup: dict[str, np.ndarray] = {}
    documents = [document(n, 0) for n in range(chunks // per_document)]
    for doc in documents:
        for chunk, row in zip(Chunker.chunk(doc), range(int(doc.doc_id[:8]) * per_document, 10**12)):
            lookup[chunk.text] = vectors[row]
    return documents, document, Chunker, lookup, vectors


def bench_replace(chunks: int = 100_000, *, dim: int = 384, per_document: int = 10, seed: int = 13,
                  work: Path | None = None, log: Callable[[str], None] = print) -> dict:
    """Replace one document in a folder index of `chunks` chunks (approximate from ANN_THRESHOLD on): the store's
    work (delete + add by id), the commit (BM25 rebuild, files written, checksums, fsync), and both together.
    Texts and vectors are synthetic and the embedder is a lookup, so only the store is timed."""
    from rag.chunking import ChunkSettings
    from rag.indexer import Indexer
    from rag.stores import IndexInfo
    from rag.stores.folder import FolderStore

    documents, document, Chunker, lookup, vectors = _synthetic_corpus(chunks, dim, per_document, seed)

    def embed(texts: list[str]) -> np.ndarray:
        return np.vstack([lookup[t] for t in texts])

    folder = Path(work or tempfile.mkdtemp(prefix="rag-replace-")) / "index"
    store = FolderStore(folder, IndexInfo("synthetic", dim, ChunkSettings()))
    log(f"replace: building a {chunks:,}-chunk index")
    started = time.perf_counter()
    Indexer(store, Chunker, embed).upsert(documents)
    store.commit()
    build_s = time.perf_counter() - started
    probe = ("import sys, numpy as np; from rag.bench.common import _rss_mib; before = _rss_mib(); "
             "anon = _rss_mib('RssAnon'); from rag.stores.folder import FolderStore; "
             "store = FolderStore.open(sys.argv[1]); store.lexical(['term1 term2'], 10); "
             "queries = np.random.default_rng(1).standard_normal((20, store.info.dimension)).astype('float32'); "
             "store.dense(queries / np.linalg.norm(queries, axis=1, keepdims=True), 10); "
             "print(before, _rss_mib(), _rss_mib('RssAnon') - anon, _rss_mib('RssFile'))")
    child = subprocess.run([sys.executable, "-c", probe, str(folder)], capture_output=True, text=True, check=True)
    before_mib, opened_mib, own_mib, file_mib = map(float, child.stdout.split()[-4:])
    store = FolderStore.open(folder)
    kind = store.describe()["index_type"]
    replacement = document(7, 1)
    for chunk, row in zip(Chunker.chunk(replacement), range(chunks, chunks + per_document)):
        lookup[chunk.text] = vectors[row]
    log("replace: one document")
    started = time.perf_counter()
    Indexer(store, Chunker, embed).upsert([replacement])
    store_s = time.perf_counter() - started
    started = time.perf_counter()
    store.commit()
    commit_s = time.perf_counter() - started
    found = store.dense(vectors[chunks : chunks + 1], 1)[0][0][0]
    shutil.rmtree(folder, ignore_errors=True)
    return {"chunks": chunks, "index": kind, "build_s": round(build_s, 1), "replace_store_s": round(store_s, 3),
            "commit_s": round(commit_s, 2), "total_s": round(store_s + commit_s, 2),
            "opened_mib": round(opened_mib - before_mib, 1),
            "opened_own_mib": round(own_mib, 1), "opened_file_mib": round(file_mib, 1),
            "bytes_per_chunk_opened": round((opened_mib - before_mib) * 2**20 / chunks),
            "replaced_chunk_found": found.startswith(replacement.doc_id)}


_OPENED_PROBE = (
    "import sys, time, numpy as np; from rag.bench.common import _rss_mib; from rag.stores import open_store; "
    "before, anon = _rss_mib(), _rss_mib('RssAnon'); started = time.perf_counter(); store = open_store(sys.argv[1]); "
    "store.lexical(['term1 term2'], 10); "
    "queries = np.random.default_rng(1).standard_normal((20, store.info.dimension)).astype('float32'); "
    "hits = store.dense(queries / np.linalg.norm(queries, axis=1, keepdims=True), 10); "
    "[store.chunk(c) for row in hits for c, _ in row]; "
    "print(time.perf_counter() - started, before, _rss_mib(), _rss_mib('RssAnon') - anon, _rss_mib('RssFile'))")


def _write_synthetic(target: str, documents: int, dim: int, per_document: int, seed: int) -> None:
    """Runs in a fresh process (a Milvus Lite file has one opener at a time): `documents` synthetic documents into
    a new store at `target`."""
    from rag.chunking import ChunkSettings
    from rag.indexer import Indexer
    from rag.stores import open_for_writing

    corpus, _, Chunker, lookup, _ = _synthetic_corpus(documents * per_document, dim, per_document, seed)
    store = open_for_writing(target, embedder_id="synthetic", dimension=dim, chunking=ChunkSettings(), rebuild=True)
    Indexer(store, Chunker, lambda texts: np.vstack([lookup[t] for t in texts])).upsert(corpus)
    store.commit()


def bench_opened(location: str, chunks: int, *, dim: int = 384, per_document: int = 10, seed: int = 13,
                 log: Callable[[str], None] = print) -> dict:
    """Memory of a process that opens the store at `location` holding `chunks` synthetic chunks and asks 20
    questions (BM25 and dense, each hit's text read), beside the same for an empty store of the same kind (a Milvus
    server gets the prefixes `#benchfull` and `#benchempty`, a Milvus Lite file two files beside it, a folder two
    subfolders). Writing and opening each
    run in a fresh process."""
    from rag.stores import StoreLocation

    where = StoreLocation(location)
    if where.kind == "folder":
        full, empty = str(Path(where.target) / "full"), str(Path(where.target) / "empty")
    elif not where.is_server:  # Milvus Lite: a file each
        full, empty = (f"milvus:{where.target.removesuffix('.db')}-{name}.db" for name in ("full", "empty"))
    else:
        full, empty = f"{location.split('#')[0]}#benchfull", f"{location.split('#')[0]}#benchempty"
    measured = {}
    env = {**os.environ, "RAG_CACHE_DIR": tempfile.mkdtemp(prefix="rag-opened-cache-")}  # a Milvus read cache of its own
    for name, target, documents in (("empty", empty, 1), ("full", full, chunks // per_document)):
        log(f"opened: writing {documents * per_document:,} chunks into {target}")
        subprocess.run([sys.executable, "-c", "import sys; from rag.bench.scale import _write_synthetic; "
                        "_write_synthetic(sys.argv[1], *map(int, sys.argv[2:]))", target, str(documents), str(dim),
                        str(per_document), str(seed)], check=True, env=env)
        for opening in ("first", "later"):  # a Milvus store's first process fills the machine's read cache
            child = subprocess.run([sys.executable, "-c", _OPENED_PROBE, target], capture_output=True, text=True,
                                   check=True, env=env)
            seconds, before, after, own, mapped = map(float, child.stdout.split()[-5:])
            measured[f"{name}_{opening}"] = {"opened_mib": round(after - before, 1), "own_mib": round(own, 1),
                                             "file_mib": round(mapped, 1), "seconds": round(seconds, 2)}
    return {"location": location, "kind": where.kind, "chunks": chunks, **measured,
            "above_empty_first_mib": round(measured["full_first"]["opened_mib"] - measured["empty_first"]["opened_mib"], 1),
            "above_empty_later_mib": round(measured["full_later"]["opened_mib"] - measured["empty_later"]["opened_mib"], 1)}


def scale_markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# rag bench scale: vector stores at scale",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB. {r['dimension']}-d synthetic clustered unit "
        f"vectors, {r['queries']} queries one at a time, 100 neighbours each, recall against exact search.",
        "",
        "| vectors | store | setting | build / insert (s) | search p50 / p95 (ms) | recall@100 | memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        if "resident_mib" in row:
            memory = (f"{row['resident_mib']} MiB resident ({row['baseline_mib']} before opening; {row['anon_mib']} own, "
                      f"{row['file_mib']} mapped file pages), {row['disk_mib']} MiB on disk")
        else:
            memory = f"{row.get('bytes_per_vector', '')} B/vector" if row.get("bytes_per_vector") else ""
        mark = " (default)" if row.get("default") and row["store"].startswith("faiss") else ""
        lines.append(f"| {row['vectors']:,} | {row['store']} | {row['setting']}{mark} | {row['build_s']} | "
                     f"{row['search_ms']['p50']} / {row['search_ms']['p95']} | {row['recall@100']} | {memory} |")
    replace = r.get("replace")
    if replace:
        lines += ["", f"Replacing one document ({replace['index']} index of {replace['chunks']:,} chunks): "
                      f"{replace['replace_store_s']} s in the store (delete + add by id), {replace['commit_s']} s to commit "
                      f"(BM25 rebuilt, generation written, checksummed, fsynced), {replace['total_s']} s in all. "
                      f"A process that opens this index and asks 20 questions holds {replace['opened_mib']} MiB for it "
                      f"({replace['bytes_per_chunk_opened']} bytes a chunk: catalog, BM25, vectors), of which "
                      f"{replace['opened_own_mib']} MiB its own and the rest file pages read through the page "
                      f"cache (memory-mapped vectors and BM25; {replace['opened_file_mib']} MiB of mapped files in all)."]
    for opened in r.get("opened") or []:
        full = opened["full_later"]
        lines += ["", f"A process that opens {opened['location']} holding {opened['chunks']:,} chunks and asks 20 "
                      f"questions holds **{opened['above_empty_first_mib']} MiB above an empty store** when it is the "
                      f"first to see that state, **{opened['above_empty_later_mib']} MiB** after (its own "
                      f"{full['own_mib']} MiB, {full['file_mib']} MiB mapped files); opening it and asking took "
                      f"{opened['full_first']['seconds']} s first, {full['seconds']} s after."]
    return "\n".join(lines) + "\n"
