"""`rag bench`: speed and memory (pipeline, scale, load, ocr, watch, files)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag.cli import (
    EXIT_OK, SEED_QUESTIONS, BACKEND, command, opt,
)


@command("bench", "measure speed and memory (pipeline, scale, load, ocr, watch, files)",
         opt("kind", nargs="?", choices=["pipeline", "scale", "load", "ocr", "watch", "files"], default="pipeline"),
         opt("--corpus", metavar="DIR", nargs="+",
             help="pipeline: a BEIR folder or documents (default: ../shared/data/scifact); files: the big files"),
         opt("--pages", type=int, default=1000, metavar="N", help="files: pages of the PDF made when no --corpus"),
         opt("--questions", metavar="FILE.jsonl", help="questions for a non-BEIR corpus; load: questions to ask"),
         opt("--docs", type=int, default=300, metavar="N", help="pipeline: seeded sample of N documents (0: all)"),
         opt("--queries", type=int, metavar="N", help="questions timed (pipeline 100, scale 200)"), BACKEND,
         opt("--no-naive", action="store_true", help="pipeline: skip the naive baseline"),
         opt("--sizes", default="1000000", metavar="N,N", help="scale: vector counts"),
         opt("--store", metavar="URI", action="append", default=[],
             help="scale: also measure this Milvus location (milvus:PATH.db or http://HOST:19530; repeatable)"),
         opt("--ondisk-only", action="store_true", help="scale: only the on-disk index (sizes beyond memory)"),
         opt("--replace-chunks", type=int, default=100_000, metavar="N",
             help="scale: time replacing one document in an index of N chunks (0: skip)"),
         opt("--clients", type=int, default=20, metavar="N", help="load: concurrent clients"),
         opt("--seconds", type=float, default=60, metavar="S", help="load: duration"),
         opt("--reader", choices=["extractive", "llm"], default="extractive", help="load: reader"),
         opt("--uploads-every", type=float, default=0, metavar="S",
             help="load: also upload a small document every S seconds (into a scratch copy of the index)"),
         opt("--index", metavar="DIR", help="load: index to serve (default: the seed corpus's)"),
         opt("--out", default="bench-results", metavar="DIR"))
def cmd_bench(args: argparse.Namespace) -> int:
    """Measure speed and memory; print Markdown and write JSON + Markdown into --out.

    pipeline (default): indexing throughput, query latency per stage (p50/p95), cold start of `rag ask` and peak
      memory on a corpus (default: BEIR SciFact in ../shared/data, a seeded sample of --docs documents), against a
      naive pipeline built from the same libraries, with our/naive ratios.
    scale: the vector stores on synthetic clustered vectors (default 1M): FAISS IVF in memory, IVF-PQ on disk
      (resident memory of a fresh process), and any --store given: build time, latency, recall@100.
    load: the chat server under --clients concurrent API clients for --seconds, on loopback.
    ocr: word accuracy and seconds per page of the OCR engines on A4 pages rendered at 300 dpi from known text
      (--corpus FILE, default the seed article) in five fonts and two sizes, slightly skewed, with noise.
    watch: seconds from a file saved into a watched folder until a question about it retrieves it (20 saves).
    files: time and peak memory of indexing big files, each in a fresh process (default: a 1,000-page PDF).

    Example: rag bench --docs 300 --queries 100 --out bench-results
    """
    from rag import bench

    out = Path(args.out)
    log = lambda message: print(f"[bench] {message}", file=sys.stderr, flush=True)  # noqa: E731
    result, markdown, name = _BENCHES[args.kind](args, log)
    bench.write(result, markdown, out, name)
    print(markdown)
    print(f"Wrote {out / name}.json and {out / name}.md", file=sys.stderr)
    return EXIT_OK


def _bench_scale(args, log):
    from rag import bench

    result = bench.bench_scale([int(s) for s in args.sizes.split(",")], queries=args.queries or 200, milvus=args.store,
                               log=log, memory_index=not args.ondisk_only, replace_chunks=args.replace_chunks)
    return result, bench.scale_markdown(result), "scale"


def _bench_files(args, log):
    from rag import bench

    result = bench.bench_files([Path(p) for p in args.corpus or ()], pages=args.pages, log=log)
    return result, bench.files_markdown(result), "files"


def _bench_watch(args, log):
    from rag import bench

    result = bench.bench_watch(args.queries or 20, log=log)
    return result, bench.watch_markdown(result), "watch"


def _bench_ocr(args, log):
    from rag import ocr_bench
    from rag.errors import RagError
    from rag.ocr import missing_hint
    from rag.paths import SEED_CORPUS

    source = Path(args.corpus[0]) if args.corpus else sorted(SEED_CORPUS.glob("*.txt"))[0]
    rows = ocr_bench.run(source.read_text(encoding="utf-8"), ocr_bench.default_styles(), log=log)
    if not rows:
        raise RagError("no OCR engine is installed", hint=missing_hint())
    return {"rows": rows, "text": str(source)}, ocr_bench.markdown(rows), "ocr"


def _bench_load(args, log):
    from rag import bench
    from rag.evaluation.datasets import load_jsonl

    questions = [q.question for q in load_jsonl(args.questions or SEED_QUESTIONS).questions]
    result = bench.bench_load(questions, clients=args.clients, seconds=args.seconds, reader=args.reader,
                              index=Path(args.index) if args.index else None, uploads_every=args.uploads_every, log=log)
    return result, bench.load_markdown(result), f"load-{args.reader}"


def _bench_pipeline(args, log):
    from rag import bench
    from rag.errors import RagError

    corpus = Path(args.corpus[0]) if args.corpus else bench.DEFAULT_CORPUS
    if not corpus.exists():
        raise RagError(f"benchmark corpus {corpus} does not exist",
                       hint="pass --corpus DIR (a BEIR folder, or documents with --questions)")
    result = bench.bench_pipeline(corpus, questions=Path(args.questions) if args.questions else None, docs=args.docs,
                                  queries=args.queries or 100, backend=args.embedder_backend or "onnx-int8",
                                  naive=not args.no_naive, log=log)
    return result, bench.pipeline_markdown(result), f"pipeline-{result['backend']}"


_BENCHES = {"pipeline": _bench_pipeline, "scale": _bench_scale, "load": _bench_load, "ocr": _bench_ocr,
            "watch": _bench_watch, "files": _bench_files}
