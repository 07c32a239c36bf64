"""The `rag` command. Imports here are light; each command imports what it needs when it runs.

The commands live by concern — `library` (index, ask, remove, list), `serving` (serve, chat, mcp), `evaluating`
(eval, eval-kinds, calibrate, eval-table), `benching` (bench) — and register themselves with `command`, in the
order `rag --help` lists them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from rag.readers import CHAT_READERS

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
SEED_QUESTIONS = Path(__file__).resolve().parent.parent.parent / "seeds" / "questions.jsonl"


def _settings(args: argparse.Namespace, **extra):
    from rag.settings import Settings
    from rag.retrieval import RetrievalSettings

    values = {}
    if getattr(args, "index", None):
        values["index_dir"] = Path(args.index).expanduser()
    if getattr(args, "store", None):
        from rag.settings import location_settings

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


# The command modules register their commands on import, in this order (the order of `rag --help`).
from rag.cli import library, serving, evaluating, benching  # noqa: E402,F401
from rag.cli.printing import _answer_text  # noqa: E402,F401 - the terminal rendering, used by the chat tests


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

