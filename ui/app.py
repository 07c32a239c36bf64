"""The Gradio chat window. It calls rag.assistant and nothing deeper: no retrieval or reading logic lives here.

`ChatApp` holds the plain functions behind the window, testable without a browser; `ui.blocks.build_app` lays the
window out and `ui.server` serves it with the API routes (`build_server`, `serve`). Named API endpoints (`/ask`,
`/documents`) serve gradio_client scripts.
"""

from __future__ import annotations

import html
import json
import logging
import queue
import threading
import time
from collections import deque
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from rag.assistant import Assistant
from rag.types import answer_to_dict
from rag.errors import RagError
from rag.readers import CHAT_READERS, MODEL_READERS, READERS
from ui import render
from ui.documents import DocumentsTab

CONCURRENCY_LIMIT = 2  # questions answered at once: the models are shared and the machine has few cores
QUEUE_SIZE = 64
log = logging.getLogger("rag.chat")
WAITING = "Waiting for the answer above…"
NO_SOURCES = "<p>Cited passages appear here, with the supporting words highlighted. Click an answer to see its own.</p>"
STAGES = {"searching": "Searching your documents…", "reading": "Reading the passages…"}
LLM_READERS = MODEL_READERS
READER_CHOICES = [(READERS[name][0], name) for name in CHAT_READERS]


def example_questions(limit: int = 6) -> list[str]:
    from rag.paths import SEED_CORPUS

    path = SEED_CORPUS / "questions.jsonl"
    if not path.is_file():
        return []
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("answers") and row.get("question"):
            questions.append(row["question"])
    return questions[:limit]


@dataclass
class _Session:
    """One browser session's questions: those waiting, whether its answering loop runs, how to stop the answer."""

    pending: deque = field(default_factory=deque)
    run: int = 0  # counts loops and stops: a loop whose number is no longer `run` was stopped and ends
    owner: int | None = None  # the number of the loop answering now, if any
    current: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _in_background(start, stop: threading.Event, tick: float = 1.0):
    """The events of the generator `start()` makes, iterated in a worker thread, with ("tick", None) every `tick`
    seconds while it is busy (loading a model, searching), so the chat can show the time waited. Setting `stop`, or
    closing this generator, closes the worker's generator at its next event: a model stops at its next token."""
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            with closing(start()) as stream:
                for item in stream:
                    if stop.is_set():
                        return
                    events.put(item)
        except BaseException as exc:  # handed over and raised where the events are read
            events.put(("error", exc))
        finally:
            events.put(("done", None))

    threading.Thread(target=work, name="rag-answer", daemon=True).start()
    try:
        while True:
            try:
                event, value = events.get(timeout=tick)
            except queue.Empty:
                if stop.is_set():
                    return
                yield "tick", None
                continue
            if event == "done":
                return
            if event == "error":
                raise value
            yield event, value
    finally:
        stop.set()


def _text(message: dict) -> str:
    """A chat message's text: gradio sends content back as a string or as a list of typed parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content.get("text", "")) if isinstance(content, dict) else ""


def _answered(history: list | None) -> list[dict]:
    """The conversation without the questions still waiting (each shown as the question and a waiting line), each
    message as {"role", "content": text}."""
    history = [{"role": m.get("role"), "content": _text(m)} for m in history or [] if isinstance(m, dict)]
    waiting = {i for i, m in enumerate(history) if m["content"] == WAITING}
    return [m for i, m in enumerate(history) if i not in waiting and i + 1 not in waiting]


class ChatApp(DocumentsTab):
    def __init__(self, assistant: Assistant, *, read_only: bool = False):
        self.assistant = assistant
        self.read_only = read_only  # questions only: no uploads, no removals
        self._sessions: dict[str, _Session] = {}
        self._sessions_lock = threading.Lock()
        self._model_warm = False  # the local model answered once in this process: no loading message after that

    @property
    def uploads_dir(self) -> Path:
        """Uploaded files are kept beside a folder index; for a Milvus store (whose text lives in Milvus), in the
        user cache under a name derived from the store's location."""
        settings = self.assistant.settings
        if settings.store:
            import hashlib

            from rag.paths import cache_dir

            return cache_dir() / "uploads" / hashlib.sha256(settings.location.encode("utf-8")).hexdigest()[:16]
        return Path(settings.index_dir) / "uploads"

    # ----- chat ---------------------------------------------------------------------------------------------
    #
    # A question goes through `enqueue` (checked at once, shown in the conversation, never lost) and is answered by
    # `drain`, which answers a session's questions one after the other: one typed while another is being answered
    # waits its turn. `stop` ends the answer being written (the model stops at its next token) and drops the waiting
    # ones. Each answer's sources are kept, so clicking an earlier answer shows its own.

    def _session(self, request) -> _Session:
        key = getattr(request, "session_hash", None) or "local"
        with self._sessions_lock:
            return self._sessions.setdefault(key, _Session())

    def enqueue(self, message, history: list, request=None) -> tuple:
        """Ask button / Enter: (question box, conversation, inline message). A user mistake is said beside the box,
        once, and logged as one line; the box keeps what was typed."""
        import gradio as gr

        try:
            question = self.assistant_question(message)
        except RagError as exc:
            log.info("question refused: %s", exc)
            return gr.skip(), gr.skip(), gr.update(value=render.escape(f"⚠ {exc}"), visible=True)
        session = self._session(request)
        with session.lock:
            session.pending.append(question)
        history = list(history or []) + [{"role": "user", "content": render.escape(question)},
                                         {"role": "assistant", "content": WAITING}]
        return "", history, gr.update(value="", visible=False)

    def drain(self, history: list, k: int, reader: str, rerank: bool = True, kept: dict | None = None,
              scope: list | None = None, request=None) -> Iterator[tuple]:
        """Answer the session's waiting questions in order; yields (conversation, sources, kept sources)."""
        import gradio as gr

        session = self._session(request)
        with session.lock:
            if session.owner is not None:  # the session's answering loop is running and will reach this question
                yield gr.skip(), gr.skip(), gr.skip()
                return
            session.run += 1
            session.owner = run = session.run
        kept = dict(kept or {})
        done = _answered(history)
        answered = False
        try:
            while True:
                with session.lock:
                    if not session.pending or session.run != run:
                        if not answered:  # nothing was waiting (a refused question): the conversation stays as it is
                            yield gr.skip(), gr.skip(), gr.skip()
                        return
                    answered = True
                    question = session.pending.popleft()
                    session.current = threading.Event()
                previous = [html.unescape(m["content"]) for m in done if m["role"] == "user"]
                done = done + [{"role": "user", "content": render.escape(question)}]
                for shown, sources, answer in self._answer_steps(question, previous, k, reader, rerank, session.current,
                                                                 scope or []):
                    if answer is not None:
                        kept[str(len(done))] = sources
                    yield done + [{"role": "assistant", "content": shown}] + self._waiting(session), sources, kept
                done = done + [{"role": "assistant", "content": shown}]
        finally:
            with session.lock:
                if session.owner == run:
                    session.owner = None

    @staticmethod
    def _waiting(session: _Session) -> list[dict]:
        with session.lock:
            pending = list(session.pending)
        return [m for q in pending for m in ({"role": "user", "content": render.escape(q)},
                                             {"role": "assistant", "content": WAITING})]

    def _answer_steps(self, question: str, previous: list[str], k, reader, rerank, stop: threading.Event,
                      scope: list | None = None):
        """(text shown, sources HTML, Answer or None) as the answer comes in: the stage and the seconds waited, the
        words as they are written, then the answer with its sources."""
        started = time.monotonic()
        loading = reader in LLM_READERS and not self._model_warm
        stage = "Loading the local model (first question only)…" if loading else STAGES["searching"]
        text = ""
        try:
            for event, value in _in_background(
                    lambda: self.assistant.ask_stream(question, previous, k=k, reader=reader, rerank=rerank,
                                                      sources=scope or []), stop):
                if event == "stage" and not loading:
                    stage = STAGES.get(value, stage)
                elif event == "partial":
                    text = value
                elif event == "answer":
                    if reader in LLM_READERS:
                        self._model_warm = True
                    yield render.escape(render.answer_text(value)), render.sources_panel(value), value
                    return
                if text:  # a draft: each sentence is checked against its source before the answer is shown
                    yield render.escape(text) + "\n\n*Checking each sentence against its source…*", "", None
                else:
                    yield f"{stage} {time.monotonic() - started:.0f} s", "", None
        except RagError as exc:
            yield render.escape(f"Sorry: {exc}"), "", None
        except Exception:  # a fault of the server, not of the question: logged in full, said plainly
            log.exception("answering %r failed", question)
            yield "Sorry: something went wrong on the server while answering; the details are in its log.", "", None
        if stop.is_set():
            yield render.escape(text) + " (stopped)" if text else "(stopped)", "", None

    def stop(self, request=None, *, abandoned: bool = False) -> None:
        """Stop button: the answer being written ends at the model's next token (the answering loop shows it as
        stopped within a second and ends); the questions still waiting are dropped. `abandoned`: gradio cancels the
        loop too (New conversation), so it never runs again and the session is free at once."""
        session = self._session(request)
        with session.lock:
            session.pending.clear()
            session.current.set()
            session.run += 1
            if abandoned:
                session.owner = None

    def new_conversation(self, request=None) -> None:
        """New conversation: the answer being written is stopped and the waiting questions dropped."""
        self.stop(request, abandoned=True)

    @staticmethod
    def sources_of(kept: dict | None, selected) -> str:
        """The sources of the answer a person clicked (`selected` is the message's index)."""
        index = selected[0] if isinstance(selected, (list, tuple)) else selected
        return (kept or {}).get(str(index), "") or NO_SOURCES

    def respond(self, message: str, history: list, k: int, reader: str, rerank: bool = True) -> Iterator[tuple[list, str, str]]:
        """One question, start to end, as the chat runs it: yields (conversation, sources HTML, question box)."""
        self.assistant_question(message)  # a mistake is a RagError here, as the chat says it beside the box
        _, history, _ = self.enqueue(message, history)
        for history, sources, _ in self.drain(history, k, reader, rerank):
            yield history, sources, ""

    def on_seed_corpus(self) -> bool:
        """Whether the chat answers from the seed corpus (then its own example questions fit)."""
        from rag.paths import default_index_dir

        settings = self.assistant.settings
        return not settings.store and Path(settings.index_dir) == default_index_dir()

    def title_questions(self, limit: int = 3) -> list[str]:
        """Example questions made from the indexed documents' titles."""
        documents = self.assistant.documents() if self.assistant.has_index() else []
        return [f"What is “{d.title}” about?" for d in documents if d.title][:limit]

    def corpus_line(self) -> str:
        """What the chat searches, named on its tab."""
        documents = self.assistant.documents() if self.assistant.has_index() else []
        if not documents:
            return "No documents indexed yet: add some on the *Documents* tab."
        chunks = sum(d.chunks for d in documents)
        names = ", ".join(render.escape(d.title or d.name) for d in documents[:3])
        more = f" and {len(documents) - 3} more" if len(documents) > 3 else ""
        return (f"Searching {len(documents)} document{'s' * (len(documents) != 1)} ({chunks:,} passages): "
                f"{names}{more}.")

    @staticmethod
    def assistant_question(message) -> str:
        from rag.settings import clean_question

        if isinstance(message, dict):  # multimodal textbox payloads
            message = message.get("text", "")
        return clean_question(message or "")

    def ask_api(self, question: str, k: int = 5, reader: str = "extractive", rerank: bool | None = None) -> dict:
        """Answer a question; returns the same object as `rag ask --json` (answer, citations with quotes, hits).
        `rerank` turns the cross-encoder second stage on or off (default: as the server was started)."""
        import gradio as gr

        try:
            answer = self.assistant.ask(question, k=k, reader=reader, rerank=None if rerank is None else bool(rerank))
        except RagError as exc:
            raise gr.Error(str(exc))
        return answer_to_dict(answer, paths=False)

    def open_store(self, location: str | None) -> tuple[str, str, object]:
        """Documents tab: answer from the index at another location (a folder, milvus:PATH.db or a Milvus server).
        A location without an index yet is created by the next upload."""
        import gradio as gr

        from rag.settings import location_settings
        from rag.stores import store_exists

        if self.read_only:
            raise gr.Error("This server is read-only: it answers from the index it was started with.")
        try:
            changes = location_settings(location or "")
            exists = store_exists(location or "")
            switched = self.assistant.with_settings(**changes)
            if exists:
                switched.documents()  # reads it now: a wrong embedder or a damaged index is said here, not later
        except RagError as exc:
            raise gr.Error(str(exc))
        self.assistant = switched
        shown = render.escape(switched.settings.location)
        message = (f"Answering from {shown}." if exists else
                   f"No index at {shown} yet: the documents you add here will create it.")
        return message, render.documents_table(self.documents_table()), gr.update(choices=self.document_choices(), value=None)
