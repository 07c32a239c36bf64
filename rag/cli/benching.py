"""`rag bench`, a group: pipeline (the default), scale, load, ocr, watch, files — speed and memory."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rag.cli import (
    CONTEXT, EXIT_OK, RERANK, RERANK_DEPTH, SEED_QUESTIONS, BACKEND, _InOrder, cli, command,
)


# The benchmarks are listed in the order they are defined below; `rag bench` alone runs the pipeline one.
@click.group("bench", cls=_InOrder, invoke_without_command=True, context_settings=CONTEXT,
             short_help="measure speed and memory (pipeline, scale, load, ocr, watch, files)")
@click.pass_context
def bench_group(ctx: click.Context) -> int | None:
    """Measure speed and memory; each benchmark prints Markdown and writes JSON + Markdown into its --out.

    Example: rag bench scale --sizes 1000000 --replace-chunks 1000000
    """
    if ctx.invoked_subcommand is None:
        return ctx.invoke(bench_group.commands["pipeline"])
    return None


cli.add_command(bench_group)
OUT = click.Option(["--out"], default="bench-results", metavar="DIR", help="folder for the JSON and Markdown")


def _benchmark(name: str, help_text: str, *params: click.Parameter):
    """A `rag bench` subcommand: `run(args, log)` returns (result, markdown, file name)."""

    def register(run):
        def measure(args) -> int:
            from rag import bench

            out = Path(args.out)
            log = lambda message: print(f"[bench] {message}", file=sys.stderr, flush=True)  # noqa: E731
            result, markdown, file_name = run(args, log)
            bench.write(result, markdown, out, file_name)
            print(markdown)
            print(f"Wrote {out / file_name}.json and {out / file_name}.md", file=sys.stderr)
            return EXIT_OK

        measure.__doc__ = run.__doc__
        command(name, help_text, *params, OUT, group=bench_group)(measure)
        return run

    return register


@_benchmark("pipeline", "indexing throughput, latency per stage, cold start and memory beside a naive pipeline",
            click.Option(["--corpus"], metavar="DIR",
                         help="a BEIR folder or documents (default: ../shared/data/scifact)"),
            click.Option(["--questions"], metavar="FILE.jsonl", help="questions for a non-BEIR corpus"),
            click.Option(["--docs"], type=int, default=300, metavar="N", help="seeded sample of N documents (0: all)"),
            click.Option(["--queries"], type=int, default=100, metavar="N", help="questions timed"), BACKEND,
            click.Option(["--no-naive"], is_flag=True, help="skip the naive baseline"))
def _bench_pipeline(args, log):
    """Indexing throughput, query latency per stage (p50/p95), cold start of `rag ask` and peak memory on a corpus
    (default: BEIR SciFact in ../shared/data, a seeded sample of --docs documents), against a naive pipeline built
    from the same libraries, with our/naive ratios.

    Example: rag bench pipeline --docs 300 --queries 100 --out bench-results
    """
    from rag import bench
    from rag.errors import RagError

    corpus = Path(args.corpus) if args.corpus else bench.DEFAULT_CORPUS
    if not corpus.exists():
        raise RagError(f"benchmark corpus {corpus} does not exist",
                       hint="pass --corpus DIR (a BEIR folder, or documents with --questions)")
    result = bench.bench_pipeline(corpus, questions=Path(args.questions) if args.questions else None, docs=args.docs,
                                  queries=args.queries, backend=args.embedder_backend or "onnx-int8",
                                  naive=not args.no_naive, log=log)
    return result, bench.pipeline_markdown(result), f"pipeline-{result['backend']}"


@_benchmark("scale", "the vector stores at scale: build, latency, recall@100, memory",
            click.Option(["--sizes"], default="1000000", metavar="N,N", help="vector counts"),
            click.Option(["--store"], multiple=True, metavar="URI",
                         help="also measure this Milvus location (milvus:PATH.db or http://HOST:19530; repeatable)"),
            click.Option(["--ondisk-only"], is_flag=True, help="only the on-disk index (sizes beyond memory)"),
            click.Option(["--replace-chunks"], type=int, default=100_000, metavar="N",
                         help="time replacing one document in an index of N chunks and measure a process that opens "
                              "it (and each --store holding N chunks) (0: skip)"),
            click.Option(["--queries"], type=int, default=200, metavar="N", help="queries timed"))
def _bench_scale(args, log):
    """The vector stores on synthetic clustered vectors (default 1M): FAISS IVF in memory, IVF-PQ on disk (resident
    memory of a fresh process), and any --store given: build time, latency, recall@100.

    Example: rag bench scale --sizes 2000 --ondisk-only --replace-chunks 1000000
    """
    from rag import bench

    result = bench.bench_scale([int(s) for s in args.sizes.split(",")], queries=args.queries, milvus=args.store,
                               log=log, memory_index=not args.ondisk_only, replace_chunks=args.replace_chunks)
    return result, bench.scale_markdown(result), "scale"


@_benchmark("load", "the chat server under concurrent API clients",
            click.Option(["--clients"], type=int, default=20, metavar="N", help="concurrent clients"),
            click.Option(["--seconds"], type=float, default=60, metavar="S", help="duration"),
            click.Option(["--reader"], type=click.Choice(["extractive", "llm"]), default="extractive"),
            click.Option(["--questions"], metavar="FILE.jsonl", help="questions to ask (default: the seed questions)"),
            click.Option(["--uploads-every"], type=float, default=0, metavar="S",
                         help="also upload a small document every S seconds (into a scratch copy of the index)"),
            click.Option(["--index"], metavar="DIR", help="index to serve (default: the seed corpus's)"),
            RERANK, RERANK_DEPTH)
def _bench_load(args, log):
    """The chat server under --clients concurrent API clients for --seconds, on loopback: answers per second and
    latency.

    Example: rag bench load --clients 20 --seconds 30
    """
    from rag import bench
    from rag.evaluation.datasets import load_jsonl

    questions = [q.question for q in load_jsonl(args.questions or SEED_QUESTIONS).questions]
    result = bench.bench_load(questions, clients=args.clients, seconds=args.seconds, reader=args.reader,
                              index=Path(args.index) if args.index else None, uploads_every=args.uploads_every,
                              serve_options=_second_stage_options(args), log=log)
    return result, bench.load_markdown(result), f"load-{args.reader}"


@_benchmark("ocr", "word accuracy and seconds per page of the OCR engines",
            click.Option(["--corpus"], metavar="FILE", help="the text to render (default: the seed article)"))
def _bench_ocr(args, log):
    """Word accuracy and seconds per page of the OCR engines installed, on A4 pages rendered at 300 dpi from known
    text in five fonts and two sizes, slightly skewed, with noise."""
    from rag import ocr_bench
    from rag.errors import RagError
    from rag.ocr import missing_hint
    from rag.paths import SEED_CORPUS

    source = Path(args.corpus) if args.corpus else sorted(SEED_CORPUS.glob("*.txt"))[0]
    rows = ocr_bench.run(source.read_text(encoding="utf-8"), ocr_bench.default_styles(), log=log)
    if not rows:
        raise RagError("no OCR engine is installed", hint=missing_hint())
    return {"rows": rows, "text": str(source)}, ocr_bench.markdown(rows), "ocr"


@_benchmark("watch", "seconds from a file saved into a watched folder until it is answerable",
            click.Option(["--queries"], type=int, default=20, metavar="N", help="files saved"))
def _bench_watch(args, log):
    """Seconds from a file saved into a watched folder until a question about it retrieves it."""
    from rag import bench

    result = bench.bench_watch(args.queries, log=log)
    return result, bench.watch_markdown(result), "watch"


@_benchmark("files", "time and peak memory of indexing big files",
            click.Option(["--corpus"], multiple=True, metavar="FILE", help="a big file to index (repeatable)"),
            click.Option(["--pages"], type=int, default=1000, metavar="N", help="pages of the PDF made when no --corpus"))
def _bench_files(args, log):
    """Time and peak memory of indexing big files, each in a fresh `rag index` process (default: a 1,000-page PDF
    made from the seed article's paragraphs)."""
    from rag import bench

    result = bench.bench_files([Path(p) for p in args.corpus or ()], pages=args.pages, log=log)
    return result, bench.files_markdown(result), "files"


def _second_stage_options(args) -> list[str]:
    """The second-stage options of `rag bench load`, as `rag serve` takes them."""
    options = ["--no-rerank"] if args.rerank is False else []
    return options + (["--rerank-depth", str(args.rerank_depth)] if args.rerank_depth else [])
