"""`rag bench pipeline`: indexing throughput and peak memory, per-stage query latency, cold start, against a
naive pipeline built from the same libraries."""

from __future__ import annotations

import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rag.errors import RagError
from rag.bench.common import STAGES, _rag, _run_measured, machine, stats


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
        query = _query_stages(assistant, texts)
        query_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        log(f"cold start of rag ask x{cold_runs}")
        cold = [_run_measured([*_rag(), "ask", texts[run % len(texts)], "--index", str(index_dir),
                               "--embedder-backend", backend], env) for run in range(cold_runs)]
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


def _query_stages(assistant, texts: Sequence[str]) -> dict:
    """Per-stage latency statistics of asking each question once, one at a time, in a warm process."""
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
    return query


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
