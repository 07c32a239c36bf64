"""`rag index`, `rag ask`, `rag remove`, `rag list`: what is indexed, and asking it once."""

from __future__ import annotations

import json
import os
import sys
import time

import click

from rag.cli import (
    EXIT_OK, EXIT_PARTIAL, INDEX, LLM_MODEL, PASSAGES, QA_MODEL, RERANK, RERANK_DEPTH, SOURCE, WHERE, _assistant,
    _progress, _settings, command,
)
from rag.readers import READERS
from rag.cli.printing import _answer_text


@command("index", "index files or folders", click.Argument(["paths"], nargs=-1, metavar="[PATH]..."), *INDEX,
         click.Option(["--from", "source"], metavar="URI",
                      help="copy the index at this location (a folder or a Milvus one) into --store, vectors included"),
         click.Option(["--rebuild"], is_flag=True, help="start a new index instead of updating the existing one"),
         click.Option(["--chunk-tokens"], type=int, metavar="N", help="chunk size in embedder tokens"),
         click.Option(["--overlap-tokens"], type=int, metavar="N", help="overlap between chunks in embedder tokens"),
         click.Option(["--watch"], is_flag=True,
                      help="keep watching the folders: files added, changed or removed are reflected within seconds"))
def cmd_index(args) -> int:
    """Index files or folders (recursively): .txt .md .html .pdf .docx .csv .tsv .xlsx .pptx .eml .epub.

    Unchanged files are skipped without re-embedding; changed files replace their old chunks.
    Files that cannot be read are reported and the others are still indexed (exit code 3).

    Example: rag index ~/notes report.pdf --index ~/my-index
    Moving an index into Milvus (nothing is embedded again): rag index --from ~/my-index --store http://HOST:19530
    """
    from rag.assistant import Assistant

    if args.source:
        return _copy_index(args)
    if not args.paths:
        from rag.errors import RagError

        raise RagError("nothing to index", hint="name files or folders, or copy an index with --from URI --store URI")
    assistant = Assistant(_settings(args))
    if args.watch:
        return _watch(assistant, args.paths)
    bar, update = _progress("embedding")
    report, skipped = assistant.index_paths(args.paths, rebuild=args.rebuild, on_progress=update)
    bar.close()
    for item in skipped:
        print(f"warning: skipped {item.path}: {item.reason}", file=sys.stderr)
    for source, twin in report.duplicates:
        print(f"warning: skipped {source}: same content as {twin}", file=sys.stderr)
    print(
        f"Indexed into {assistant.settings.location}: {len(report.added)} added, {len(report.replaced)} updated, "
        f"{len(report.unchanged)} unchanged, {report.chunks_embedded} chunks embedded."
    )
    return EXIT_PARTIAL if skipped else EXIT_OK


def _watch(assistant, folders) -> int:
    from rag.watch import watch

    def on_sync(report, skipped) -> None:
        for item in skipped:
            print(f"warning: skipped {item.path}: {item.reason}", file=sys.stderr)
        if report.changed:
            print(f"{time.strftime('%H:%M:%S')} {len(report.added)} added, {len(report.replaced)} updated, "
                  f"{len(report.removed)} removed.", flush=True)

    print(f"Watching {', '.join(str(f) for f in folders)} for {assistant.settings.location} (Ctrl-C stops).", flush=True)
    watch(assistant, folders, on_sync=on_sync, on_error=lambda exc: print(f"error: {exc}", file=sys.stderr, flush=True))
    return EXIT_OK


def _copy_index(args) -> int:
    from rag.errors import RagError
    from rag.stores import copy_index

    target = _settings(args).location
    if args.paths or args.rebuild:
        raise RagError("--from copies an index as it is", hint="leave out PATH and --rebuild; index new files afterwards")
    bar, update = _progress("copying documents")
    copied = copy_index(args.source, target, on_progress=update)
    bar.close()
    print(f"Copied {copied} chunks from {args.source} into {target}.")
    return EXIT_OK


@command("ask", "ask a question", click.Argument(["question"]), *INDEX, PASSAGES,
         click.Option(["--reader"], type=click.Choice(list(READERS)),
                      help="how answers are read from passages (auto: the answer shaped by the question's kind)"),
         click.Option(["--retrieval"], type=click.Choice(["hybrid", "dense", "lexical"]),
                      help="retrieval mode (default hybrid)"),
         click.Option(["--explain"], is_flag=True, help="llm reader: one to three sentences with [n] markers"),
         LLM_MODEL, QA_MODEL, RERANK, RERANK_DEPTH, SOURCE, WHERE,
         click.Option(["--json"], is_flag=True, help="print one JSON object (stable keys, for scripts)"))
def cmd_ask(args) -> int:
    """Ask a question; prints the answer and the exact source spans that support it.

    Without --index the seed corpus is used (indexed into a per-user cache on first use).

    Example: rag ask "Who signed the mining agreement?" --json
    """
    from rag.settings import clean_question
    from rag.types import answer_to_dict

    from rag.scope import check_where

    clean_question(args.question)  # fail fast, before any model loads
    check_where(args.where)
    assistant = _assistant(args)
    answer = assistant.ask(args.question, sources=args.source, where=args.where)
    if args.json:
        print(json.dumps(answer_to_dict(answer), ensure_ascii=False, indent=2))
        return EXIT_OK
    print(_answer_text(answer, colour=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
    return EXIT_OK


@command("remove", "remove a document from the index", click.Argument(["source"], metavar="SOURCE"), *INDEX)
def cmd_remove(args) -> int:
    """Remove a document from the index by its path (or its file name when that is unique).

    Example: rag remove notes/old.md --index ~/my-index
    """
    assistant = _assistant(args, build_seed=False)
    removed = assistant.remove(args.source)
    print(f"Removed {removed.source} from {assistant.settings.location}.")
    return EXIT_OK


@command("list", "list indexed documents", *INDEX, click.Option(["--json"], is_flag=True))
def cmd_list(args) -> int:
    """List the indexed documents: name, size, chunks.

    Example: rag list --index ~/my-index --json
    """
    assistant = _assistant(args)
    rows = [{"source": d.source, "title": d.title, "chars": d.chars, "chunks": d.chunks} for d in assistant.documents()]
    if not rows and not args.json:
        where = assistant.settings.location
        print(f"No documents indexed in {where} yet (add some with `rag index PATH... --store {where}`).", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            print(f"{row['chunks']:>6} chunks  {row['chars']:>9,} chars  {row['source']}")
    return EXIT_OK
