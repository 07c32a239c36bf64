"""`rag bench`: speed and memory, measured the same way every time, with a naive baseline in the same run.

Three benchmarks, each written as JSON (stable keys) and Markdown into the output folder:

- pipeline: indexing throughput and peak memory (a `rag index` process), query latency per stage (one question
  at a time, as a person asks), cold start of `rag ask` (process start to printed answer), and the same work done
  the naive way with the same libraries (SentenceTransformer.encode one text at a time, IndexFlatL2, no batching,
  no caching), reported as our/naive ratios so the comparison holds on a noisy machine.
- scale: the vector stores at scale (1M synthetic clustered vectors by default): FAISS IVF in memory and IVF-PQ on
  disk (resident memory of a fresh process), optionally Milvus; build time, latency, recall@100 against exact search.
- load: the chat server under N concurrent API clients for S seconds on loopback: failures, latency, memory.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rag.errors import RagError

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "scifact"
STAGES = ("embed_ms", "dense_ms", "lexical_ms", "fusion_ms", "rerank_ms", "reader_ms", "total_ms")


def machine() -> dict:
    import psutil

    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def stats(values: Sequence[float]) -> dict:
    from rag.evaluation.metrics import percentile

    return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2), "n": len(values)}


def _run_measured(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one child process, which must succeed."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)  # wait4: the rusage of this child alone
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        child.returncode = code
        if code != 0:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()[-500:]
            raise RagError(f"benchmark step failed: {' '.join(command)} exited {code}: {message}",
                           hint="run that command by hand to see the whole error")
    return wall, usage.ru_maxrss / 1024


def _rag() -> list[str]:
    return [sys.executable, "-m", "rag.cli"]


# ----- pipeline ------------------------------------------------------------------------------------------------

def load_corpus(corpus: Path, questions: Path | None, docs: int, queries: int, seed: int):
    """(documents, question texts) sampled with a fixed seed: a BEIR folder brings its own queries."""
    from rag.evaluation import datasets

    if (corpus / "corpus.jsonl").is_file():
        split = "test" if (corpus / "qrels" / "test.tsv").is_file() else "train"
        eval_set = datasets.load_beir(corpus, split)
        documents, texts = eval_set.documents, [q.question for q in eval_set.questions]
    else:
        from rag.loaders import load_paths

        if questions is None:
            raise RagError(f"{corpus} is not a BEIR folder, so the benchmark needs questions",
                           hint="pass --questions FILE.jsonl (one {\"question\": ...} per line)")
        documents = load_paths([corpus]).documents
        texts = [q.question for q in datasets.load_jsonl(questions).questions]
    if not documents or not texts:
        raise RagError(f"no documents or no questions found for {corpus}", hint="check --corpus and --questions")
    rng = random.Random(seed)
    if docs and docs < len(documents):
        documents = rng.sample(documents, docs)
    if queries and queries < len(texts):
        texts = rng.sample(texts, queries)
    return documents, texts


def bench_pipeline(corpus: Path, *, questions: Path | None = None, docs: int = 300, queries: int = 100,
                   backend: str = "onnx-int8", cold_runs: int = 3, naive: bool = True, naive_chunks: int = 1000,
                   seed: int = 13, log: Callable[[str], None] = print) -> dict:
    from rag.assistant import Assistant, Settings

    documents, texts = load_corpus(corpus, questions, docs, queries, seed)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        folder = work / "docs"
        folder.mkdir()
        for number, doc in enumerate(documents):
            (folder / f"{number:06d}.txt").write_text(doc.text, encoding="utf-8")
        index_dir = work / "index"
        env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")

        # The backend's model export (first use only) is not indexing: make sure it exists before timing.
        log(f"preparing the {backend} embedder")
        _run_measured([*_rag(), "index", str(folder / "000000.txt"), "--index", str(work / "warm"),
                       "--embedder-backend", backend], env)
        log(f"indexing {len(documents)} documents")
        wall, rss = _run_measured([*_rag(), "index", str(folder), "--index", str(index_dir),
                                      "--embedder-backend", backend], env)
        assistant = Assistant(Settings(index_dir=index_dir, embedder_backend=backend))
        chunks = assistant.store.chunk_count()
        indexing = {"documents": len(documents), "chunks": chunks, "seconds": round(wall, 2),
                    "chunks_per_s": round(chunks / wall, 2), "peak_rss_mib": round(rss, 1)}

        log(f"asking {len(texts)} questions one at a time")
        assistant.ask(texts[0])  # load models and index once: a running assistant has them
        by_stage: dict[str, list[float]] = {stage: [] for stage in STAGES}
        retrieval_ms = []
        for text in texts:
            answer = assistant.ask(text)
            for stage in STAGES:
                by_stage[stage].append(answer.timings.get(stage, 0.0))
            retrieval_ms.append(sum(answer.timings.get(s, 0.0) for s in ("embed_ms", "dense_ms", "lexical_ms", "fusion_ms")))
        query = {stage: stats(values) for stage, values in by_stage.items()}
        query["retrieval_ms"] = stats(retrieval_ms)
        query_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        log(f"cold start of rag ask x{cold_runs}")
        cold = []
        for run in range(cold_runs):
            wall_ask, rss_ask = _run_measured([*_rag(), "ask", texts[run % len(texts)], "--index", str(index_dir),
                                                  "--embedder-backend", backend], env)
            cold.append((wall_ask, rss_ask))
        cold_start = {"seconds": stats([c[0] for c in cold]), "peak_rss_mib": round(max(c[1] for c in cold), 1)}

        result = {
            "benchmark": "pipeline",
            "machine": machine(),
            "corpus": {"path": str(corpus), "documents": len(documents), "questions": len(texts), "seed": seed},
            "embedder": assistant.embedder.model_id,
            "backend": backend,
            "indexing": indexing,
            "query_ms": query,
            "query_process_peak_rss_mib": round(query_rss, 1),
            "cold_start": cold_start,
        }
        if naive:
            chunk_texts = [c.text for c in assistant.store.chunks()][:naive_chunks]
            log(f"naive baseline: {len(chunk_texts)} chunks and {len(texts)} questions, one at a time")
            result["naive"] = naive_pipeline(chunk_texts, texts, k=assistant.settings.k)
            result["ratios"] = {
                "indexing_throughput_ours_over_naive": round(indexing["chunks_per_s"] / result["naive"]["chunks_per_s"], 2),
                "retrieval_p50_naive_over_ours": round(result["naive"]["query_ms"]["p50"] / query["retrieval_ms"]["p50"], 2),
            }
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def naive_pipeline(chunk_texts: list[str], questions: list[str], *, k: int) -> dict:
    """The textbook loop with the same model and libraries: one text per encode call, exact L2 search."""
    import faiss
    from sentence_transformers import SentenceTransformer

    from rag.models import DEFAULT_EMBEDDER, resolve_embedder

    started = time.perf_counter()
    model = SentenceTransformer(str(resolve_embedder(DEFAULT_EMBEDDER)), device="cpu")
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    index = faiss.IndexFlatL2(model.get_embedding_dimension())
    for text in chunk_texts:
        index.add(model.encode([text], convert_to_numpy=True).astype(np.float32))
    wall = time.perf_counter() - started
    latencies = []
    for question in questions:
        started = time.perf_counter()
        index.search(model.encode([question], convert_to_numpy=True).astype(np.float32), k)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"chunks": len(chunk_texts), "seconds": round(wall, 2), "chunks_per_s": round(len(chunk_texts) / wall, 2),
            "model_load_s": round(load_s, 2), "query_ms": stats(latencies)}


def pipeline_markdown(r: dict) -> str:
    m, i, q, c = r["machine"], r["indexing"], r["query_ms"], r["cold_start"]
    lines = [
        f"# rag bench: pipeline ({r['backend']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}.",
        f"Corpus: {r['corpus']['path']} — {i['documents']} documents ({i['chunks']} chunks), "
        f"{r['corpus']['questions']} questions, seed {r['corpus']['seed']}. Embedder: {r['embedder']}.",
        "",
        "| measure | ours | naive | ours vs naive |",
        "|---|---|---|---|",
    ]
    naive, ratios = r.get("naive"), r.get("ratios", {})
    if naive:
        lines.append(f"| indexing throughput (chunks/s, whole `rag index` run) | {i['chunks_per_s']} | "
                     f"{naive['chunks_per_s']} (encode + add only) | {ratios['indexing_throughput_ours_over_naive']}× the throughput |")
        lines.append(f"| retrieval latency p50 / p95 (ms) | {q['retrieval_ms']['p50']} / {q['retrieval_ms']['p95']} (hybrid) | "
                     f"{naive['query_ms']['p50']} / {naive['query_ms']['p95']} (dense only) | "
                     f"{ratios['retrieval_p50_naive_over_ours']}× the speed |")
    else:
        lines.append(f"| indexing throughput (chunks/s, whole `rag index` run) | {i['chunks_per_s']} | | |")
        lines.append(f"| retrieval latency p50 / p95 (ms) | {q['retrieval_ms']['p50']} / {q['retrieval_ms']['p95']} (hybrid) | | |")
    for stage in STAGES:
        lines.append(f"| {stage.removesuffix('_ms')} p50 / p95 (ms) | {q[stage]['p50']} / {q[stage]['p95']} | | |")
    lines += [
        f"| cold start of `rag ask` (s, median of {c['seconds']['n']}) | {c['seconds']['p50']} | | |",
        f"| peak memory: indexing process (MiB) | {i['peak_rss_mib']} | | |",
        f"| peak memory: `rag ask` process (MiB) | {c['peak_rss_mib']} | | |",
        f"| peak memory: process answering {q['total_ms']['n']} questions (MiB) | {r['query_process_peak_rss_mib']} | | |",
        "",
    ]
    return "\n".join(lines)


# ----- faiss ---------------------------------------------------------------------------------------------------

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


def _rss_mib(kind: str = "VmRSS") -> float:
    """Resident memory from /proc/self/status: VmRSS (all), RssAnon (the process's own), RssFile (mapped files)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(kind + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def bench_scale(sizes: Sequence[int] = (1_000_000,), *, dim: int = 384, queries: int = 200, seed: int = 13,
                milvus: Sequence[str] = (), work: Path | None = None, replace_chunks: int = 100_000,
                memory_index: bool = True, log: Callable[[str], None] = print) -> dict:
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
        child = subprocess.run([sys.executable, "-c", "from rag.bench import _ondisk_child; _ondisk_child()", str(folder)],
                               capture_output=True, text=True, check=True)
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        from rag.stores.faiss_store import REFINE_FACTOR

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
    return {"benchmark": "scale", "machine": machine(), "dimension": dim, "queries": queries, "seed": seed, "rows": rows,
            "replace": replace}


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


def bench_replace(chunks: int = 100_000, *, dim: int = 384, per_document: int = 10, seed: int = 13,
                  work: Path | None = None, log: Callable[[str], None] = print) -> dict:
    """Replace one document in a folder index of `chunks` chunks (approximate from ANN_THRESHOLD on): the store's
    work (delete + add by id), the commit (BM25 rebuild, files written, checksums, fsync), and both together.
    Texts and vectors are synthetic and the embedder is a lookup, so only the store is timed."""
    from rag.chunking import ChunkSettings
    from rag.indexer import Indexer
    from rag.stores import IndexInfo
    from rag.stores.folder import FolderStore
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

    def embed(texts: list[str]) -> np.ndarray:
        return np.vstack([lookup[t] for t in texts])

    documents = [document(n, 0) for n in range(chunks // per_document)]
    for doc in documents:
        for chunk, row in zip(Chunker.chunk(doc), range(int(doc.doc_id[:8]) * per_document, 10**12)):
            lookup[chunk.text] = vectors[row]
    folder = Path(work or tempfile.mkdtemp(prefix="rag-replace-")) / "index"
    store = FolderStore(folder, IndexInfo("synthetic", dim, ChunkSettings()))
    log(f"replace: building a {chunks:,}-chunk index")
    started = time.perf_counter()
    Indexer(store, Chunker, embed).upsert(documents)
    store.commit()
    build_s = time.perf_counter() - started
    probe = ("import sys; from rag.bench import _rss_mib; before = _rss_mib(); from rag.stores.folder import FolderStore; "
             "store = FolderStore.open(sys.argv[1]); store.lexical([\"warm\"], 1); print(before, _rss_mib())")
    child = subprocess.run([sys.executable, "-c", probe, str(folder)], capture_output=True, text=True, check=True)
    before_mib, opened_mib = map(float, child.stdout.split()[-2:])
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
            "bytes_per_chunk_opened": round((opened_mib - before_mib) * 2**20 / chunks),
            "replaced_chunk_found": found.startswith(replacement.doc_id)}


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
                      f"A process that opens this index holds {replace['opened_mib']} MiB for it "
                      f"({replace['bytes_per_chunk_opened']} bytes a chunk: catalog, BM25, vectors)."]
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, server: subprocess.Popen, seconds: float = 180) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RagError(f"the server exited with code {server.returncode} before answering", hint="run `rag serve` by hand")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RagError(f"the server at {url} did not answer within {seconds:.0f} s", hint="run `rag serve` by hand")


def bench_load(questions: Sequence[str], *, clients: int = 20, seconds: float = 60, reader: str = "extractive",
               index: Path | None = None, uploads_every: float = 0, log: Callable[[str], None] = print) -> dict:
    """`clients` threads, each its own gradio_client, asking in a loop for `seconds` against a server on loopback;
    with `uploads_every`, one more client adds a small document through the upload endpoint that often."""
    import tempfile
    import threading

    import psutil
    from gradio_client import Client

    scratch = Path(tempfile.mkdtemp(prefix="rag-bench-load-"))
    if index is None:  # the uploads must not land in the user's own seed index
        index = scratch / "index"
        if uploads_every:
            from rag.paths import SEED_CORPUS

            subprocess.run([*_rag(), "index", str(SEED_CORPUS), "--index", str(index)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            index = None
    port = _free_port()
    command = [*_rag(), "serve", "--host", "127.0.0.1", "--port", str(port), "--reader", reader]
    if index is not None:
        command += ["--index", str(index)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    log(f"starting the server on 127.0.0.1:{port}")
    # The server's messages go to a file: a pipe nobody reads would block a chatty server once it filled up.
    server_log = open(scratch / "server.log", "wb")
    server = subprocess.Popen(command, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url, server)
        process = psutil.Process(server.pid)
        Client(url, verbose=False).predict(questions[0], 5, reader, api_name="/ask")  # models loaded, as in use
        rss = [process.memory_info().rss / 2**20]
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def client_loop(number: int) -> None:
            try:
                client = Client(url, verbose=False)
            except Exception as exc:  # counted as a failed request; the run goes on
                with lock:
                    failures.append(f"client {number} could not connect: {exc!r}")
                return
            turn = number
            while time.monotonic() < stop_at:
                question = questions[turn % len(questions)]
                turn += clients
                started = time.perf_counter()
                try:
                    data = client.predict(question, 5, reader, api_name="/ask")
                    ok = isinstance(data, dict) and data.get("question")
                    error = "" if ok else f"unexpected reply {str(data)[:200]}"
                except Exception as exc:  # every failure is counted and reported, none stops the others
                    error = repr(exc)[:300]
                with lock:
                    if error:
                        failures.append(error)
                    else:
                        latencies.append((time.perf_counter() - started) * 1000)

        uploads: list[float] = []

        def upload_loop() -> None:
            from gradio_client import handle_file

            client = Client(url, verbose=False)
            turn = 0
            while time.monotonic() + uploads_every < stop_at:
                time.sleep(uploads_every)
                turn += 1
                path = scratch / f"note-{turn}.txt"
                path.write_text(f"Field note {turn}. The survey boat counted {turn * 7} herons near pier {turn}.\n")
                started = time.perf_counter()
                try:
                    status = client.predict([handle_file(str(path))], api_name="/upload")[0]
                    error = "" if "indexed" in status else f"upload said: {status[:200]}"
                except Exception as exc:  # counted and reported like a failed question
                    error = f"upload: {exc!r}"[:300]
                with lock:
                    if error:
                        failures.append(error)
                    else:
                        uploads.append((time.perf_counter() - started) * 1000)

        log(f"{clients} clients for {seconds:.0f} s" + (f", an upload every {uploads_every:.0f} s" if uploads_every else ""))
        threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(clients)]
        if uploads_every:
            threads.append(threading.Thread(target=upload_loop, daemon=True))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            rss.append(process.memory_info().rss / 2**20)
            if time.monotonic() - started > seconds + 300:
                failures.append("clients still waiting 300 s after the end: stopped")
                break
        elapsed = time.monotonic() - started
        return {
            "benchmark": "load",
            "machine": machine(),
            "clients": clients,
            "seconds": round(elapsed, 1),
            "reader": reader,
            "requests": len(latencies) + len(uploads) + len(failures),
            "uploads": len(uploads),
            "upload_ms": stats(uploads) if uploads else None,
            "failed": len(failures),
            "failures": failures[:20],
            "throughput_per_s": round(len(latencies) / elapsed, 2),
            "latency_ms": stats(latencies),
            "server_rss_mib": {"start": round(rss[0], 1), "end": round(rss[-1], 1), "max": round(max(rss), 1)},
            "server_rss_mib_each_second": [round(value, 1) for value in rss],
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


def load_markdown(r: dict) -> str:
    m, lat, mem = r["machine"], r["latency_ms"], r["server_rss_mib"]
    return "\n".join([
        "# rag bench: chat server under load",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores. {r['clients']} concurrent API clients (gradio_client, /ask) on "
        f"loopback for {r['seconds']} s, {r['reader']} reader, the server's queue answering 2 questions at once"
        + (f"; {r['uploads']} uploads during the run." if r.get("uploads") else "."),
        "",
        "| requests | failed | answers/s | latency p50 / p95 (ms) | server memory start / end / max (MiB) |",
        "|---|---|---|---|---|",
        f"| {r['requests']} | {r['failed']} | {r['throughput_per_s']} | {lat['p50']} / {lat['p95']} | "
        f"{mem['start']} / {mem['end']} / {mem['max']} |",
        "",
    ])


def write(result: dict, markdown: str, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(markdown, encoding="utf-8")


def bench_watch(saves: int = 20, *, log: Callable[[str], None] = lambda m: None) -> dict:
    """Seconds from a file saved into a watched folder until a question about it retrieves it first, `saves` times
    one after another, with the real embedder (the watch loop of `rag serve --watch`, in this process)."""
    from rag.assistant import Assistant, Settings
    from rag.watch import watch_in_background

    with tempfile.TemporaryDirectory(prefix="rag-bench-watch-") as scratch:
        folder = Path(scratch) / "notes"
        folder.mkdir()
        (folder / "start.txt").write_text("The office kitchen is cleaned on Mondays.\n", encoding="utf-8")
        assistant = Assistant(Settings(index_dir=Path(scratch) / "index"))
        stop = watch_in_background(assistant, [folder], log=log)
        try:
            _wait_until(lambda: "start.txt" in " ".join(assistant.store.sources()), 120)
            seconds = []
            for n in range(saves):
                name = f"note-{n:02d}.txt"
                fact = f"Locker {700 + n} belongs to the courier named Ximena{n:02d} Okonkwo-Lindqvist."
                started = time.perf_counter()
                (folder / name).write_text(fact + "\n", encoding="utf-8")
                question = f"Who does locker {700 + n} belong to?"

                def found() -> bool:
                    hits = assistant.retriever().search(question, 1)
                    return bool(hits) and hits[0].chunk.text.startswith(f"Locker {700 + n}")

                _wait_until(found, 60)
                seconds.append(time.perf_counter() - started)
                log(f"save {n + 1}: answerable after {seconds[-1]:.2f} s")
        finally:
            stop.set()
    return {"machine": machine(), "saves": saves, "seconds": stats(seconds), "all_seconds": [round(s, 3) for s in seconds]}


def _wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout

    def holds() -> bool:
        try:
            return condition()
        except RagError:  # no index yet: the first sync has not committed
            return False

    while not holds():
        if time.monotonic() > deadline:
            raise RagError(f"nothing changed within {timeout:.0f} s", hint="check the folder is writable and watched")
        time.sleep(0.05)


def watch_markdown(r: dict) -> str:
    s = r["seconds"]
    return (f"| saves | p50 s | p95 s | max s |\n|---|---|---|---|\n"
            f"| {r['saves']} | {s['p50']:.2f} | {s['p95']:.2f} | {max(r['all_seconds']):.2f} |\n")


# ----- big files -----------------------------------------------------------------------------------------------

def make_book_pdf(path: Path, pages: int, text: str) -> Path:
    """A text PDF of `pages` A4 pages filled with `text`'s paragraphs over and over (fpdf2, a dev dependency)."""
    try:
        from fpdf import FPDF
    except ImportError as exc:
        raise RagError("making the test PDF needs fpdf2", hint="pip install fpdf2, or pass --corpus FILE...") from exc
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if len(p.split()) > 8]
    pdf = FPDF(format="A4")
    pdf.set_font("helvetica", size=10)
    pdf.set_auto_page_break(False)
    number = 0
    for page in range(pages):
        pdf.add_page()
        while pdf.get_y() < 250:
            paragraph = paragraphs[number % len(paragraphs)].encode("latin-1", "replace").decode("latin-1")
            pdf.multi_cell(0, 5, f"{page + 1}.{number % 97}. {paragraph[:900]}")
            pdf.ln(2)
            number += 1
    pdf.output(str(path))
    return path


def bench_files(files: Sequence[Path] = (), *, pages: int = 1000, log: Callable[[str], None] = lambda m: None) -> dict:
    """Index each big file on its own in a fresh `rag index` process: wall time, peak resident memory, pages and
    chunks. Without files, a `pages`-page text PDF is made from the seed article's paragraphs."""
    from rag.paths import SEED_CORPUS
    from rag.stores import open_store

    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-files-") as scratch:
        if not files:
            seed = sorted(SEED_CORPUS.glob("*.txt"))[0].read_text(encoding="utf-8")
            log(f"making a {pages}-page PDF")
            files = [make_book_pdf(Path(scratch) / f"book-{pages}-pages.pdf", pages, seed)]
        for number, file in enumerate(map(Path, files)):
            index = Path(scratch) / f"index-{number}"
            log(f"indexing {file.name}")
            wall, peak = _run_measured([*_rag(), "index", str(file), "--index", str(index)])
            store = open_store(str(index))
            document = next(iter(store.documents()))
            count = len(document.meta.get("pages") or ()) or 1
            rows.append({"file": file.name, "bytes": file.stat().st_size, "pages": count,
                         "chunks": store.chunk_count(), "seconds": round(wall, 1),
                         "seconds_per_page": round(wall / count, 3), "peak_rss_mib": round(peak, 1)})
            log(f"{file.name}: {count} pages, {rows[-1]['chunks']} chunks in {wall:.0f} s, peak RSS {peak:.0f} MiB")
    return {"machine": machine(), "rows": rows}


def files_markdown(r: dict) -> str:
    lines = ["| file | pages | chunks | seconds | s/page | peak RSS MiB |", "|---|---|---|---|---|---|"]
    lines += [f"| {x['file']} | {x['pages']} | {x['chunks']} | {x['seconds']:.0f} | {x['seconds_per_page']:.2f} | "
              f"{x['peak_rss_mib']:.0f} |" for x in r["rows"]]
    return "\n".join(lines) + "\n"
