"""`rag serve` (chat window, OpenAI-compatible API, MCP over HTTP), `rag chat` (the terminal) and `rag mcp` (stdio)."""

from __future__ import annotations

import os
import sys

import click

from rag.cli import (
    EXIT_OK, INDEX, LLM_MODEL, PASSAGES, RERANK, RERANK_DEPTH, SOURCE, WHERE, CHAT_READER, _assistant, command,
)
from rag.cli.printing import _answer_text


@command("serve", "start the chat window, the OpenAI-compatible API and MCP", *INDEX,
         click.Option(["--host"], default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1: this machine only; others need RAG_AUTH)"),
         click.Option(["--allow-anonymous"], is_flag=True, help="listen beyond this machine without a login"),
         click.Option(["--read-only"], is_flag=True, help="answer questions; no uploads or removals"),
         click.Option(["--port"], type=int, default=7860),
         click.Option(["--watch"], multiple=True, metavar="DIR",
                      help="keep this folder in step with the index while serving (repeatable)"),
         PASSAGES, CHAT_READER, LLM_MODEL, RERANK, RERANK_DEPTH)
def cmd_serve(args) -> int:
    """Start the chat window in the browser (Gradio) over an index (default: the seed corpus).

    It listens on 127.0.0.1 unless --host says otherwise; set RAG_AUTH=user:password to require a login (required
    beyond this machine unless --allow-anonymous). --read-only serves questions without uploads or removals.

    Example: rag serve --port 7860
    """
    from ui.server import check_exposure, serve

    check_exposure(args.host, os.environ.get("RAG_AUTH"), allow_anonymous=args.allow_anonymous)  # before any model loads
    args.reader = args.reader or "auto"  # the chat shapes each answer by its question unless told otherwise
    assistant = _assistant(args)
    if args.watch:
        from rag.watch import watch_in_background

        watch_in_background(assistant, args.watch, log=lambda message: print(message, file=sys.stderr, flush=True))
    serve(assistant, host=args.host, port=args.port, auth=os.environ.get("RAG_AUTH"), read_only=args.read_only,
          allow_anonymous=args.allow_anonymous)
    return EXIT_OK


@command("chat", "a conversation in the terminal", *INDEX, PASSAGES, CHAT_READER, LLM_MODEL, RERANK, RERANK_DEPTH,
         SOURCE, WHERE)
def cmd_chat(args) -> int:
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


@command("mcp", "serve the MCP tools over stdio", *INDEX)
def cmd_mcp(args) -> int:
    """Serve the assistant's MCP tools (ask, search, list_documents) over stdio, for desktop MCP clients.

    Configure the client to run `rag mcp --index DIR`; the chat server (`rag serve`) also serves them at /mcp/.

    Example: rag mcp --index ~/my-index
    """
    from ui.mcp_tools import build

    assistant = _assistant(args)  # messages go to stderr: stdout carries the protocol
    build(assistant, show_paths=True).run("stdio")
    return EXIT_OK
