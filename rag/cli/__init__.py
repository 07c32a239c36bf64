"""The `rag` command, on click. Imports here are light; each command imports what it needs when it runs.

The commands live by concern — `library` (index, ask, remove, list), `serving` (serve, chat, mcp), `evaluating`
(eval, eval-kinds, calibrate, eval-table), `benching` (the `bench` group: pipeline, scale, load, ocr, watch,
files) — and register themselves with `command`, each with its click parameters beside it, in the order
`rag --help` lists them. A command's function takes its parsed values as one namespace (`args.index`, ...)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import click

from rag.readers import CHAT_READERS

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 3
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 118, "show_default": True}


class _InOrder(click.Group):
    """Lists its commands in the order they were added, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


cli = _InOrder("rag", context_settings=CONTEXT,
               help="Ask questions about your own documents, offline, with answers cited to the exact source span.")


def command(name: str, help_text: str, *params: click.Parameter, group: click.Group = cli):
    """Register `func(args)` as the command `name` of `group`, with these click parameters."""

    def register(func):
        group.add_command(click.Command(name, callback=lambda **values: func(SimpleNamespace(**values)), params=list(params),
                                        help=as_written(func.__doc__), short_help=help_text, context_settings=CONTEXT))
        return func

    return register


def as_written(doc: str | None) -> str | None:
    """A docstring for click's help: examples and indented lists keep their lines (click's `\\b` marker); prose
    paragraphs are wrapped to the terminal."""
    if not doc:
        return doc
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    kept = [("\b\n" + p) if p.startswith("Example") or "\n " in p else p for p in paragraphs]
    return "\n\n".join(kept)


BACKEND = click.Option(["--embedder-backend"], type=click.Choice(["onnx-int8", "onnx", "torch"]),
                       help="how the embedder runs (default onnx-int8; an existing index keeps the one that built it)")
STORE_HELP = "where the index lives: a folder, milvus:PATH.db (Milvus Lite) or http://HOST:19530 (Milvus server)"
INDEX = (click.Option(["--index"], metavar="DIR",
                      help="index folder (default: the seed corpus's, in your user cache)"),
         click.Option(["--store"], metavar="URI", help=STORE_HELP + "; replaces --index"),
         click.Option(["--embedder"], metavar="NAME", help="embedding model path or Hugging Face id (found offline)"), BACKEND)
RERANK = click.Option(["--rerank/--no-rerank"], default=None,
                      help="the cross-encoder second stage over passages and sentences (default: on)")
RERANK_DEPTH = click.Option(["--rerank-depth"], type=click.IntRange(1, 1000), metavar="N",
                            help="chunks the cross-encoder re-reads per question (default 10; fewer answer sooner on a "
                                 "busy shared server, at some cost in quality: docs/performance.md)")
PASSAGES = click.Option(["-k"], type=int, metavar="N", help="passages per question (default 5)")
LLM_MODEL = click.Option(["--llm-model"], metavar="PATH",
                         help="a GGUF file, or a packaged model's name, for the llm reader (default: the packaged Qwen2.5 1.5B)")
SOURCE = click.Option(["--source"], multiple=True, metavar="PATTERN",
                      help="ask only documents matching this file name, folder or glob ('*.pdf'); repeatable")
WHERE = click.Option(["--where"], multiple=True, metavar="KEY:VALUE",
                     help="ask only documents meeting this: type:pdf, folder:NAME, title:WORDS, author:NAME, "
                 "after:2026-01-01, before:DATE (the document's own date); repeatable, all must hold")
QA_MODEL = click.Option(["--qa-model"], metavar="PATH",
                        help="a Hugging Face question-answering model folder (--reader qa-model)")
CHAT_READER = click.Option(["--reader"], type=click.Choice(list(CHAT_READERS)),
                           help="how answers are read from passages (auto: shaped by the question's kind)")
SEED_QUESTIONS = Path(__file__).resolve().parent.parent.parent / "seeds" / "questions.jsonl"


def _settings(args, **extra):
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
    rerank, depth = getattr(args, "rerank", None), getattr(args, "rerank_depth", None)
    if getattr(args, "retrieval", None) or rerank is not None or depth:
        second = {"rerank_depth": depth} if depth else {}
        values["retrieval"] = RetrievalSettings(mode=getattr(args, "retrieval", None) or "hybrid",
                                                rerank=True if rerank is None else rerank, **second)
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


def _assistant(args, *, build_seed: bool = True):
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
    from rag.errors import RagError

    _plain_warnings()
    try:
        code = cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="rag", standalone_mode=False)
        return EXIT_OK if code is None else code
    except click.ClickException as exc:  # a usage error: what was wrong and the command's usage
        exc.show()
        return exc.exit_code
    except click.Abort:
        print("interrupted; the index is unchanged unless the save had finished", file=sys.stderr)
        return 130
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; the index is unchanged unless the save had finished", file=sys.stderr)
        return 130

