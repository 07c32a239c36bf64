"""The `rag` command. Imports here are light; each command imports what it needs when it runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from rag.readers import CHAT_READERS, READERS

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 3
# (name, help, function, options) of each command, in the order `rag --help` lists them; each command's options
# stand beside it, in its @command line.
_COMMANDS: list[tuple[str, str, object, tuple]] = []


def opt(*flags: str, **settings) -> tuple[tuple[str, ...], dict]:
    return flags, settings


def command(name: str, help_text: str, *options: tuple[tuple[str, ...], dict]):
    def register(func):
        _COMMANDS.append((name, help_text, func, options))
        return func

    return register


BACKEND = opt("--embedder-backend", choices=["onnx-int8", "onnx", "torch"],
              help="how the embedder runs (default onnx-int8; an existing index keeps the one that built it)")
STORE_HELP = "where the index lives: a folder, milvus:PATH.db (Milvus Lite) or http://HOST:19530 (Milvus server)"
INDEX = (opt("--index", metavar="DIR", help="index folder (default: the seed corpus's, in your user cache)"),
         opt("--store", metavar="URI", help=STORE_HELP + "; replaces --index"),
         opt("--embedder", metavar="NAME", help="embedding model path or Hugging Face id (found offline)"), BACKEND)
RERANK = opt("--rerank", action=argparse.BooleanOptionalAction, default=None,
             help="the cross-encoder second stage over passages and sentences (default: on)")
PASSAGES = opt("-k", type=int, metavar="N", help="passages per question (default 5)")
LLM_MODEL = opt("--llm-model", metavar="PATH",
                help="a GGUF file, or a packaged model's name, for the llm reader (default: the packaged Qwen2.5 1.5B)")
SOURCE = opt("--source", metavar="PATTERN", action="append", default=[],
             help="ask only documents matching this file name, folder or glob ('*.pdf'); repeatable")
WHERE = opt("--where", metavar="KEY:VALUE", action="append", default=[],
            help="ask only documents meeting this: type:pdf, folder:NAME, title:WORDS, author:NAME, "
                 "after:2026-01-01, before:DATE (the document's own date); repeatable, all must hold")
QA_MODEL = opt("--qa-model", metavar="PATH", help="a Hugging Face question-answering model folder (--reader qa-model)")
CHAT_READER = opt("--reader", choices=list(CHAT_READERS),
                  help="how answers are read from passages (auto: shaped by the question's kind)")
SEED_QUESTIONS = Path(__file__).resolve().parent.parent / "seeds" / "questions.jsonl"


def _settings(args: argparse.Namespace, **extra):
    from rag.assistant import Settings
    from rag.retrieval import RetrievalSettings

    values = {}
    if getattr(args, "index", None):
        values["index_dir"] = Path(args.index).expanduser()
    if getattr(args, "store", None):
        from rag.assistant import location_settings

        values.update(location_settings(args.store))
    if getattr(args, "embedder", None):
        values["embedder"] = args.embedder
    if getattr(args, "embedder_backend", None):
        values["embedder_backend"] = args.embedder_backend
    if getattr(args, "k", None):
        values["k"] = args.k
    if getattr(args, "reader", None) and args.reader != "none":
        values["reader"] = args.reader
    if getattr(args, "llm_model", None):
        values["llm_model"] = args.llm_model
    if getattr(args, "qa_model", None):
        values["qa_model"] = args.qa_model
    if getattr(args, "explain", False):
        values["explain"] = True
    rerank = getattr(args, "rerank", None)
    if getattr(args, "retrieval", None) or rerank is not None:
        values["retrieval"] = RetrievalSettings(mode=args.retrieval or "hybrid", rerank=True if rerank is None else rerank)
    if getattr(args, "chunk_tokens", None) or getattr(args, "overlap_tokens", None) is not None:
        from rag.chunking import ChunkSettings

        default = ChunkSettings()
        values["chunking"] = ChunkSettings(
            chunk_tokens=args.chunk_tokens or default.chunk_tokens,
            overlap_tokens=default.overlap_tokens if args.overlap_tokens is None else args.overlap_tokens,
        )
    values.update(extra)
    return Settings(**values)


def _progress(description: str):
    """A tqdm bar fed by (done, total) callbacks; written to stderr so --json output stays clean."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=description, unit="chunk", file=sys.stderr, disable=None, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def _assistant(args: argparse.Namespace, *, build_seed: bool = True):
    from rag.assistant import Assistant

    assistant = Assistant(_settings(args))
    chosen = getattr(args, "index", None) or getattr(args, "store", None)  # a named index is never filled with the seeds
    if not chosen and build_seed and not assistant.has_index():
        print(f"Indexing the seed corpus into {assistant.settings.index_dir} (first use only)...", file=sys.stderr)
        bar, update = _progress("embedding")
        assistant.ensure_seed_index(on_progress=update)
        bar.close()
    return assistant


@command("index", "index files or folders", opt("paths", nargs="*", metavar="PATH"), *INDEX,
         opt("--from", dest="source", metavar="URI",
             help="copy the index at this location (a folder or a Milvus one) into --store, vectors included"),
         opt("--rebuild", action="store_true", help="start a new index instead of updating the existing one"),
         opt("--chunk-tokens", type=int, metavar="N", help="chunk size in embedder tokens"),
         opt("--overlap-tokens", type=int, metavar="N", help="overlap between chunks in embedder tokens"),
         opt("--watch", action="store_true",
             help="keep watching the folders: files added, changed or removed are reflected within seconds"))
def cmd_index(args: argparse.Namespace) -> int:
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


def _copy_index(args: argparse.Namespace) -> int:
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


@command("ask", "ask a question", opt("question"), *INDEX, PASSAGES,
         opt("--reader", choices=list(READERS),
             help="how answers are read from passages (auto: the answer shaped by the question's kind)"),
         opt("--retrieval", choices=["hybrid", "dense", "lexical"], help="retrieval mode (default hybrid)"),
         opt("--explain", action="store_true", help="llm reader: one to three sentences with [n] markers"),
         LLM_MODEL, QA_MODEL, RERANK, SOURCE, WHERE,
         opt("--json", action="store_true", help="print one JSON object (stable keys, for scripts)"))
def cmd_ask(args: argparse.Namespace) -> int:
    """Ask a question; prints the answer and the exact source spans that support it.

    Without --index the seed corpus is used (indexed into a per-user cache on first use).

    Example: rag ask "Who signed the mining agreement?" --json
    """
    from rag.assistant import answer_to_dict, clean_question

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


def _snippet(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@command("remove", "remove a document from the index", opt("source", metavar="SOURCE"), *INDEX)
def cmd_remove(args: argparse.Namespace) -> int:
    """Remove a document from the index by its path (or its file name when that is unique).

    Example: rag remove notes/old.md --index ~/my-index
    """
    assistant = _assistant(args, build_seed=False)
    removed = assistant.remove(args.source)
    print(f"Removed {removed.source} from {assistant.settings.location}.")
    return EXIT_OK


@command("list", "list indexed documents", *INDEX, opt("--json", action="store_true"))
def cmd_list(args: argparse.Namespace) -> int:
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


@command("serve", "start the chat window, the OpenAI-compatible API and MCP", *INDEX,
         opt("--host", default="127.0.0.1",
             help="address to listen on (default 127.0.0.1: this machine only; others need RAG_AUTH)"),
         opt("--allow-anonymous", action="store_true", help="listen beyond this machine without a login"),
         opt("--read-only", action="store_true", help="answer questions; no uploads or removals"),
         opt("--port", type=int, default=7860),
         opt("--watch", metavar="DIR", action="append", default=[],
             help="keep this folder in step with the index while serving (repeatable)"),
         PASSAGES, CHAT_READER, LLM_MODEL, RERANK)
def cmd_serve(args: argparse.Namespace) -> int:
    """Start the chat window in the browser (Gradio) over an index (default: the seed corpus).

    It listens on 127.0.0.1 unless --host says otherwise; set RAG_AUTH=user:password to require a login (required
    beyond this machine unless --allow-anonymous). --read-only serves questions without uploads or removals.

    Example: rag serve --port 7860
    """
    from ui.app import check_exposure, serve

    check_exposure(args.host, os.environ.get("RAG_AUTH"), allow_anonymous=args.allow_anonymous)  # before any model loads
    args.reader = args.reader or "auto"  # the chat shapes each answer by its question unless told otherwise
    assistant = _assistant(args)
    if args.watch:
        from rag.watch import watch_in_background

        watch_in_background(assistant, args.watch, log=lambda message: print(message, file=sys.stderr, flush=True))
    serve(assistant, host=args.host, port=args.port, auth=os.environ.get("RAG_AUTH"), read_only=args.read_only,
          allow_anonymous=args.allow_anonymous)
    return EXIT_OK


@command("chat", "a conversation in the terminal", *INDEX, PASSAGES, CHAT_READER, LLM_MODEL, RERANK, SOURCE, WHERE)
def cmd_chat(args: argparse.Namespace) -> int:
    """A conversation in the terminal: ask, then ask follow-ups ("and when?"); every answer prints its citations
    with their offsets and the quote, the answer inside it highlighted. /new starts over; /quit or Ctrl-D ends.

    Example: rag chat --reader llm
    """
    args.reader = args.reader or "auto"
    assistant = _assistant(args)
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    history: list[str] = []
    print("Ask your documents (/new starts a new conversation, /quit ends).")
    while True:
        try:
            question = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return EXIT_OK
        if not question:
            continue
        if question in ("/quit", "/exit"):
            return EXIT_OK
        if question == "/new":
            history.clear()
            print("(new conversation)")
            continue
        from rag.errors import RagError

        try:
            answer = assistant.ask(question, history, sources=args.source, where=args.where)
        except RagError as exc:  # a bad question is a message, the conversation goes on
            print(f"error: {exc}")
            continue
        history.append(question)
        print(_answer_text(answer, colour, paths=False))
    return EXIT_OK


def _answer_text(answer, colour: bool, *, paths: bool = True) -> str:
    """The answer, then each citation: where it is (offsets, page) and its quote with the short answer marked.
    With paths=False (the conversation) documents are named by title and file name, and the closest passages of a
    declined answer are shown whole."""

    def named(document) -> str:
        if paths:
            return document.source
        return f"{document.title} ({document.name})" if document.title and document.title != document.name else document.name

    lines = [answer.text]
    if answer.abstained:
        lines.append("Closest passages:")
        for hit in answer.hits[:3]:
            document = answer.document(hit.chunk.doc_id)
            text = " ".join(hit.chunk.text.split()) if not paths else _snippet(hit.chunk.text)
            lines.append(f"  - {named(document) if not paths else Path(document.source).name} "
                         f"[{hit.chunk.start}:{hit.chunk.end}] {text}")
    for number, citation in enumerate(answer.citations, start=1):
        document = answer.document(citation.doc_id)
        place = document.place_at(citation.start)
        lines.append(f"[{number}] {named(document)} [{citation.start}:{citation.end}]" + (f", {place}" if place else ""))
        quote = citation.quote
        span = answer.answer_span if number == 1 else None
        if span and citation.start <= span[0] < span[1] <= citation.end:
            a, b = span[0] - citation.start, span[1] - citation.start
            mark = ("\033[1;33m", "\033[0m") if colour else ("»", "«")
            quote = quote[:a] + mark[0] + quote[a:b] + mark[1] + quote[b:]
        lines.append(f'    "{quote}"')
    return "\n".join(lines)


@command("mcp", "serve the MCP tools over stdio", *INDEX)
def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve the assistant's MCP tools (ask, search, list_documents) over stdio, for desktop MCP clients.

    Configure the client to run `rag mcp --index DIR`; the chat server (`rag serve`) also serves them at /mcp/.

    Example: rag mcp --index ~/my-index
    """
    from ui.mcp_tools import build

    assistant = _assistant(args)  # messages go to stderr: stdout carries the protocol
    build(assistant, show_paths=True).run("stdio")
    return EXIT_OK


@command("eval", "evaluate on a question set",
         opt("questions", nargs="?", metavar="QUESTIONS.jsonl"),
         opt("--corpus", metavar="PATH", help="documents to index for the questions (default: the seed corpus)"),
         opt("--index", metavar="DIR", help="evaluate on an existing index instead"),
         opt("--store", metavar="URI", help=STORE_HELP + ": the corpus is indexed there (parity runs)"),
         opt("--squad", metavar="FILE", help="SQuAD 2.0 JSON (corpus = its paragraphs)"),
         opt("--gold-context", action="store_true", help="SQuAD: read each question's own paragraph (reader alone)"),
         opt("--fold", choices=["tune", "test"],
             help="SQuAD: the articles (RGB: the questions) in even (tune) or odd (test) places, to choose settings on "
                  "one half and report on the other"),
         opt("--beir", metavar="DIR", help="BEIR dataset folder (retrieval only)"),
         opt("--split", default="test"),
         opt("--rgb", metavar="FILE", help="RGB news questions (JSON lines)"),
         opt("--hotpot", metavar="FILE", help="HotpotQA, processed JSON lines (corpus = every question's paragraphs)"),
         opt("--baseline", choices=["stuff"],
             help="also answer with the textbook chain (dense top-4, the classic stuff prompt, the same local model)"),
         opt("--negatives-only", action="store_true", help="RGB: only passages without the answer"),
         opt("--reader", choices=[*READERS, "none"],
             help="none: retrieval only"),
         QA_MODEL, LLM_MODEL,
         opt("--retrieval", choices=["hybrid", "dense", "lexical"], help="mode the reader uses (all are measured)"),
         opt("-k", type=int, metavar="N", help="passages given to the reader (default 5)"), RERANK,
         opt("--no-abstain", action="store_true", help="the reader always answers (its confidence is still recorded)"),
         opt("--limit", type=int, metavar="N", help="a seeded random sample of N questions"), SOURCE, WHERE,
         opt("--embedder", metavar="NAME"), BACKEND, opt("--out", required=True, metavar="DIR"))
def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate retrieval and answers on a question set; writes summary.json, results.jsonl, report.md and plots.

    Retrieval is measured in every mode (dense, lexical, hybrid) side by side; the reader uses --retrieval.

    Examples:
      rag eval seeds/questions.jsonl --out eval-results/seeds
      rag eval --squad ../shared/data/squad-v2-dev/dev-v2.0-25articles.json --gold-context --out eval-results/squad-gold
      rag eval --beir ../shared/data/scifact --split test --out eval-results/scifact
      rag eval --rgb ../shared/data/rgb-en-fact/en_fact.json --negatives-only --out eval-results/rgb-negatives
      rag eval my-questions.jsonl --corpus ~/reports --source '2026-*.pdf' --out eval-results/2026-reports
    """
    from rag.embedding import Embedder
    from rag.evaluation.runner import EvalConfig, run
    from rag.paths import cache_dir

    eval_set, gold = _eval_set(args)
    base = _settings(args)
    embedder = Embedder(base.embedder, backend=base.embedder_backend)
    factory = _eval_assistants(args, base, embedder)
    from tqdm import tqdm

    bar = tqdm(total=0, file=sys.stderr, disable=None, leave=False)

    def progress(done, total, label):
        bar.set_description(label)
        bar.total, bar.n = total, done
        bar.refresh()

    config = EvalConfig(
        reader=None if eval_set.retrieval_only or args.reader == "none" else (args.reader or "extractive"),
        k=args.k or 5,
        mode=args.retrieval or base.retrieval.mode,
        gold_context=args.gold_context,
        limit=args.limit,
        embedder=embedder.model_id,
        rerank=base.retrieval.rerank,
        abstain=not args.no_abstain,
        baseline=args.baseline,
        sources=tuple(args.source),
        where=tuple(args.where),
    )
    summary = run(eval_set, factory, config, Path(args.out), cache_root=cache_dir() / "eval-indexes" / embedder.model_id.replace("/", "--").replace(":", "-"), gold_docs=gold, progress=progress)
    bar.close()
    keys = ["questions", "answerable", "hit@1", "hit@5", "hit@10", "mrr", "ndcg@10", "recall@100", "mrr@10", "em", "f1",
            "f1_answerable", "f1_yes_no", "support_recall", "citation_support", "abstention_precision", "abstention_recall",
            "latency_ms_p50", "latency_ms_p95", "f1_vs_baseline", "baseline", "by_kind"]
    print(json.dumps({k: summary[k] for k in keys if k in summary}, indent=2))
    print(f"Wrote {args.out}/summary.json, results.jsonl, report.md, hit_at_k.png, latency.png", file=sys.stderr)
    return EXIT_OK


def _eval_set(args: argparse.Namespace):
    """(the question set, its gold passage ids or None) from the arguments of `rag eval`."""
    from rag.errors import RagError
    from rag.evaluation import datasets

    given = [bool(args.questions), bool(args.squad), bool(args.beir), bool(args.rgb), bool(args.hotpot)]
    if sum(given) != 1:
        raise RagError("give exactly one question set",
                       hint="QUESTIONS.jsonl, --squad FILE, --beir DIR, --rgb FILE or --hotpot FILE")
    gold = None
    if args.questions:
        from rag.loaders import load_paths
        from rag.paths import SEED_CORPUS

        eval_set = datasets.load_jsonl(args.questions)
        if args.corpus or not args.index:
            loaded = load_paths([args.corpus or SEED_CORPUS])
            for item in loaded.skipped:
                print(f"warning: skipped {item.path}: {item.reason}", file=sys.stderr)
            eval_set.documents = loaded.documents
    elif args.squad:
        eval_set, gold = datasets.load_squad(args.squad, fold=args.fold)
    elif args.hotpot:
        eval_set, gold = datasets.load_hotpot(args.hotpot, fold=args.fold)
    elif args.beir:
        eval_set = datasets.load_beir(args.beir, args.split)
    else:
        eval_set = datasets.load_rgb(args.rgb, negatives_only=args.negatives_only, fold=args.fold)
    if args.gold_context and gold is None:
        raise RagError("--gold-context needs a dataset that labels each question's passage",
                       hint="use it with --squad or --hotpot")
    return eval_set, gold


def _eval_assistants(args: argparse.Namespace, base, embedder):
    """folder -> an Assistant for the run: the corpus's (cached by content, or the given --index / --store), or with
    folder None a scratch one for throw-away passage sets (kept in memory)."""
    from dataclasses import replace

    from rag.assistant import Assistant

    scratch = Path(args.out) / ".scratch"

    def factory(folder):
        if base.store:  # the corpus goes into the given store; throw-away passage sets stay in memory
            return Assistant(base if folder is not None else replace(base, store=None, index_dir=scratch), embedder=embedder)
        if folder is None:
            return Assistant(replace(base, index_dir=Path(args.index) if args.index else scratch), embedder=embedder)
        return Assistant(replace(base, index_dir=folder), embedder=embedder)

    return factory


@command("eval-kinds", "ask a labelled question-kinds set and score the answers",
         opt("questions", metavar="KINDS.jsonl"),
         opt("--data", default="../shared/data", metavar="DIR",
             help="the public evaluation data the set's squad/hotpot/rgb rows refer to"),
         opt("--labels-only", action="store_true", help="only how often each kind is read right (no models)"),
         opt("--limit", type=int, metavar="N", help="a seeded random sample of N questions"),
         opt("--out", required=True, metavar="DIR"))
def cmd_eval_kinds(args: argparse.Namespace) -> int:
    """Ask every question of a kinds set (seeds/kinds.jsonl) with the auto reader, each over its own documents, and
    report how often its kind was read right and how often the answer is one a person would accept (the rule per
    kind is in rag/evaluation/kinds.py). Writes summary.json, results.jsonl and report.md.

    Example: rag eval-kinds seeds/kinds.jsonl --out eval-results/kinds
    """
    import random

    from rag.evaluation import kinds

    questions = kinds.load(args.questions, args.data)
    if args.limit and args.limit < len(questions):
        questions = random.Random(0).sample(questions, args.limit)
    out = Path(args.out)
    if args.labels_only:
        summary = kinds.kind_accuracy(questions)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        print(json.dumps(summary, indent=2))
        return EXIT_OK
    from rag.assistant import Assistant, Settings
    from rag.embedding import Embedder
    from rag.loaders import load_paths
    from rag.paths import SEED_CORPUS

    embedder = Embedder()
    seed = load_paths([SEED_CORPUS]).documents

    def assistant_for(documents):
        assistant = Assistant(Settings(index_dir=out / ".scratch", reader="auto"), embedder=embedder)
        assistant.add_documents(list(documents) or seed, persist=False)
        return assistant

    from tqdm import tqdm

    with tqdm(total=len(questions), file=sys.stderr, disable=None, leave=False, desc="answering") as bar:
        summary = kinds.run(questions, assistant_for, out, progress=lambda done, total: bar.update(done - bar.n))
    print(json.dumps(summary, indent=2))
    print(f"Wrote {out}/summary.json, results.jsonl, report.md", file=sys.stderr)
    return EXIT_OK


@command("calibrate", "fit a reader's confidence on eval runs", opt("folders", nargs="+", metavar="DIR"),
         opt("--reader", choices=["extractive", "llm"], required=True),
         opt("--precision", type=float, default=0.8,
             help="decline below the highest confidence where this share of declined questions is unanswerable"),
         opt("--write", action="store_true", help="store it as the reader's shipped calibration"))
def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit a reader's confidence on `rag eval --no-abstain` runs and choose the threshold below which it declines.

    Prints what was fitted (AUC, how the runs score answering everything and declining below the threshold);
    --write stores it as the reader's shipped calibration (rag/readers/calibration.json).

    Example: rag calibrate eval-results/cal-llm-gold eval-results/cal-llm-open --reader llm --write
    """
    from rag.evaluation import calibrate

    rows = calibrate.load_rows([Path(f) for f in args.folders])
    fitted = calibrate.fit(rows, args.reader, precision=args.precision)
    report = {"reader": args.reader, "rows": fitted.rows, "auc": fitted.auc, "threshold": fitted.calibration.threshold,
              "declined": fitted.declined, "objective": calibrate.OBJECTIVES[args.reader],
              "score_always_answering": fitted.score_always_answering, "score_declining": fitted.score_declining,
              "weights": dict(zip(fitted.calibration.features, [round(w, 4) for w in fitted.calibration.weights]))}
    print(json.dumps(report, indent=2))
    if args.write:
        calibrate.write(fitted, args.reader, [Path(f) for f in args.folders])
        print(f"Wrote the {args.reader} calibration to {calibrate.CALIBRATION_FILE}", file=sys.stderr)
    return EXIT_OK


@command("eval-table", "summarise eval runs as one Markdown table", opt("folders", nargs="+", metavar="DIR"))
def cmd_eval_table(args: argparse.Namespace) -> int:
    """Print one Markdown table from `rag eval` output folders (each holding a summary.json).

    Example: rag eval-table eval-results/*
    """
    from rag.evaluation.table import table

    print(table([Path(p) for p in args.folders]), end="")
    return EXIT_OK


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Ask questions about your own documents, offline, with answers cited to the exact source span.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, func, options in _COMMANDS:
        command = sub.add_parser(name, help=help_text, description=func.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        command.set_defaults(func=func)
        for flags, settings in options:
            command.add_argument(*flags, **settings)
    return parser


def _plain_warnings() -> None:
    """The project's own warnings (e.g. an index recovered from an earlier generation) as one line on stderr."""
    import warnings

    from rag.errors import IndexRecoveredWarning

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, IndexRecoveredWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are found locally; never reach for a hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    from rag.errors import RagError

    _plain_warnings()
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; the index is unchanged unless the save had finished", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
