"""MCP tools: coding and chat assistants that speak the Model Context Protocol ask the user's documents.

Built on the official `mcp` SDK (MCPServer) rather than Gradio's own MCP switch: the tools are defined here with
typed results and docstrings written for a calling model, and the same server runs over stdio (`rag mcp`, for
desktop clients) and over streamable HTTP at /mcp on the chat server. Gradio's switch would publish every API
endpoint of the app as a tool (uploads included) with the UI's signatures.

Tools: ask(question, k, reader), search(question, k), list_documents().
"""

from __future__ import annotations

from typing import Callable, Literal

from typing_extensions import TypedDict  # pydantic reads TypedDict field types from this one on Python < 3.12

from rag.assistant import Assistant
from rag.types import answer_to_dict
from rag.errors import RagError
from rag.readers import CHAT_READERS


class CitationResult(TypedDict):
    doc_id: str
    source: str
    start: int
    end: int
    quote: str


class HitResult(TypedDict):
    source: str
    start: int
    end: int
    score: float


class AnswerResult(TypedDict):
    question: str
    answer: str
    abstained: bool
    citations: list[CitationResult]
    hits: list[HitResult]
    timings_ms: dict[str, float]


class PassageResult(TypedDict):
    source: str
    start: int
    end: int
    text: str
    score: float


class DocumentResult(TypedDict):
    name: str
    title: str
    chunks: int
    size_bytes: int | None


INSTRUCTIONS = (
    "Answers questions from the user's own documents, offline. Every answer cites the exact characters of the "
    "documents that support it: a citation's quote is the document's text between start and end. When the "
    "documents do not answer, `abstained` is true; do not answer from general knowledge then."
)


def build(assistant: Assistant | Callable[[], Assistant], *, show_paths: bool = False):
    """The MCP server over `assistant` (or over whichever assistant the callable returns at each call: the chat
    server's, which the Documents tab can switch to another index). `show_paths` adds each document's full path
    (stdio, on the user's own machine); over the network only file names are given."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("rag", instructions=INSTRUCTIONS, log_level="WARNING")
    current = assistant if callable(assistant) else (lambda: assistant)

    def source_of(path: str) -> str:
        from pathlib import Path

        return path if show_paths else Path(path).name

    @server.tool()
    def ask(question: str, k: int = 5, reader: Literal[CHAT_READERS] = "extractive",
            sources: list[str] | None = None, where: list[str] | None = None) -> AnswerResult:
        """Answer a question from the indexed documents.

        Returns the answer text, whether the documents do not say (`abstained`), the citations that support it
        (source file, start and end character offsets, and `quote`, the document's exact text there) and the
        passages that were retrieved (`hits`). `reader`: auto (shaped by the question: a fact, a list, yes/no, a
        reason, an overview), extractive (instant, quotes the source), llm (a short
        phrase from a local model), llm-explain (one to three sentences with [n] markers). `k`: passages, 1-100.
        `sources`: only the documents matching these file names or globs ("*.pdf", "minutes*"); `where`: only
        those meeting every KEY:VALUE condition (type:pdf, folder:NAME, title:WORDS, author:NAME, after:DATE,
        before:DATE)."""
        try:
            data = answer_to_dict(current().ask(question, k=k, reader=reader, sources=sources or [], where=where or []))
        except RagError as exc:
            raise ToolError(str(exc)) from exc
        for item in data["citations"] + data["hits"]:
            item["source"] = source_of(item["source"])
        return data

    @server.tool()
    def search(question: str, k: int = 5, sources: list[str] | None = None,
               where: list[str] | None = None) -> list[PassageResult]:
        """The k passages of the documents that best match the question, best first: source file, start and end
        character offsets, the passage's exact text and its score (higher is better). No answer is composed.
        `sources`: only the documents matching these file names or globs; `where`: KEY:VALUE conditions as in ask."""
        try:
            passages = current().search(question, k, sources=sources or [], where=where or [])
        except RagError as exc:
            raise ToolError(str(exc)) from exc
        return [{"source": source_of(p.source), "start": p.start, "end": p.end, "text": p.text, "score": p.score}
                for p in passages]

    @server.tool()
    def list_documents() -> list[DocumentResult]:
        """The indexed documents: file name, title, number of chunks and size in bytes."""
        return [{"name": d.source if show_paths else d.name, "title": d.title, "chunks": d.chunks,
                 "size_bytes": d.size_bytes} for d in current().documents()]

    return server
