"""OpenAI-compatible chat routes, for chat front-ends and editors that speak that API (Open WebUI, LibreChat, ...).

    GET  /v1/models             one model per reader: rag-auto, rag-extractive, rag-llm, rag-llm-explain
    POST /v1/chat/completions   the last user message is the question, earlier user messages its history;
                                "stream": true sends server-sent events

The answer text carries [n] markers; besides the standard fields the response has `citations` (n, source file
name, start, end, quote: the exact characters of the document) and `rag` (the object `rag ask --json` prints).
With RAG_AUTH set, requests need `Authorization: Bearer PASSWORD` (or `Bearer user:password`, or HTTP Basic).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from typing import Callable, Iterator

# FastAPI reads the route functions' annotations at run time: Request must be importable from this module.
from fastapi import Request

from rag.assistant import Assistant
from rag.types import answer_to_dict
from rag.errors import RagError
from rag.readers import CHAT_READERS
from rag.types import Answer
from ui import render

MODELS = {f"rag-{name}": name for name in CHAT_READERS}


def authorised(header: str | None, credentials: tuple[str, str] | None) -> bool:
    """True when no login is required, or the Authorization header carries RAG_AUTH's password."""
    if credentials is None:
        return True
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    user, password = credentials
    if scheme.lower() == "bearer":
        return secrets.compare_digest(value.strip(), password) or secrets.compare_digest(value.strip(), f"{user}:{password}")
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(given, f"{user}:{password}")
    return False


def _text(content) -> str:
    """A message's text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")
    return ""


def question_and_history(body: dict) -> tuple[str, list[str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RagError("the request has no messages", hint='send {"messages": [{"role": "user", "content": "..."}]}')
    asked = [_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not asked:
        raise RagError("the request has no user message", hint="the last user message is the question")
    return asked[-1], asked[:-1]


def citations(answer: Answer) -> list[dict]:
    return [{"n": n, "source": render.display_name(answer.document(c.doc_id)), "start": c.start, "end": c.end,
             "quote": c.quote} for n, c in enumerate(answer.citations, start=1)]


def router(assistant: Assistant | Callable[[], Assistant], credentials: tuple[str, str] | None,
           gate: threading.BoundedSemaphore):
    """The /v1 routes over `assistant` (or whichever assistant the callable returns at each request: the chat
    server's, which the Documents tab can switch to another index); `gate` is shared with the chat window, so the
    models answer a bounded number at once."""
    current = assistant if callable(assistant) else (lambda: assistant)
    from fastapi import APIRouter
    from fastapi.responses import JSONResponse, StreamingResponse

    api = APIRouter()

    def refuse(status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)

    @api.get("/v1/models")
    def models(request: Request):
        if not authorised(request.headers.get("authorization"), credentials):
            return refuse(401, "a login is required: send Authorization: Bearer PASSWORD", "authentication_error")
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "rag"} for name in MODELS]}

    @api.post("/v1/chat/completions")
    async def chat(request: Request):
        if not authorised(request.headers.get("authorization"), credentials):
            return refuse(401, "a login is required: send Authorization: Bearer PASSWORD", "authentication_error")
        try:
            body = await request.json()
        except ValueError:
            return refuse(400, "the request body is not JSON", "invalid_request_error")
        if not isinstance(body, dict):
            return refuse(400, "the request body must be a JSON object", "invalid_request_error")
        model = body.get("model") or "rag-extractive"
        if model not in MODELS:
            return refuse(404, f"unknown model {model!r}; choose one of {', '.join(MODELS)}", "invalid_request_error")
        try:
            question, history = question_and_history(body)
        except RagError as exc:
            return refuse(400, str(exc), "invalid_request_error")
        sources = body.get("sources") or []
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            return refuse(400, "sources must be a list of file names or globs", "invalid_request_error")
        where = body.get("where") or []
        where = [where] if isinstance(where, str) else where
        if not isinstance(where, list) or not all(isinstance(w, str) for w in where):
            return refuse(400, "where must be a list of KEY:VALUE conditions", "invalid_request_error")
        events = _answer_events(current(), gate, question, history, MODELS[model], sources, where)
        if body.get("stream"):
            return StreamingResponse(_sse(events, model), media_type="text/event-stream")
        from starlette.concurrency import run_in_threadpool

        try:
            answer = await run_in_threadpool(_last, events)
        except RagError as exc:
            return refuse(400, str(exc), "invalid_request_error")
        return _completion(answer, model)

    return api


def _answer_events(assistant: Assistant, gate, question: str, history: list[str], reader: str,
                   sources: list[str] = (), where: list[str] = ()) -> Iterator[tuple[str, object]]:
    with gate:
        yield from assistant.ask_stream(question, history, reader=reader, sources=sources, where=where)


def _last(events) -> Answer:
    answer = None
    for event, value in events:
        if event == "answer":
            answer = value
    return answer


def _completion(answer: Answer, model: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": render.answer_text(answer, sources_panel=False)},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": citations(answer),
        "rag": answer_to_dict(answer, paths=False),
    }


def _sse(events: Iterator[tuple[str, object]], model: str) -> Iterator[str]:
    """chat.completion.chunk events: the role, the text as it is written, then the citations, then [DONE]."""
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    sent = ""
    try:
        for event, value in events:
            if event == "partial" and value.startswith(sent):
                yield chunk({"content": value[len(sent):]})
                sent = value
            elif event == "answer":
                final = render.answer_text(value, sources_panel=False)
                # A streamed draft is replaced by the checked answer when they differ (markers renumbered).
                rest = final[len(sent):] if final.startswith(sent) else "\n\n" + final
                if rest:
                    yield chunk({"content": rest})
                yield chunk({}, "stop", citations=citations(value), rag=answer_to_dict(value, paths=False))
    except RagError as exc:
        yield chunk({"content": f"Sorry: {exc}"}, "stop")
    yield "data: [DONE]\n\n"
