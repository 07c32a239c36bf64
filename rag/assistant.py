"""ask(question, history) -> Answer: the one entry point the CLI and the UI share.

The Assistant owns the embedder, the store and the readers of one index location. Models load lazily and once; the
loaded store is swapped atomically after each update, so concurrent questions see either the old or the new one.
"""

from __future__ import annotations

import threading
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from rag.chunking import Chunker, ChunkSettings
from rag.errors import IndexNotFoundError, RagError
from rag.paths import SEED_CORPUS
from rag.questions import without_corpus_reference
from rag.readers.metadata import metadata_question
from rag.scope import scope_of
from rag.settings import READERS, ReaderName, Settings, check_k, clean_question, location_settings, retrieval_query
from rag.types import Answer, Document

STALE_CHECK_SECONDS = 1.0  # how often a long-running assistant looks for a generation committed elsewhere

class Assistant:
    """Ask questions of your documents; every answer cites the exact characters that support it.

    The short public surface (see the README, *OpenAI-compatible API, MCP and Python*):

        assistant = Assistant.open("~/my-index")      # or Assistant.open() for the seed corpus
        assistant.add(["notes/", "report.pdf"])         # index files and folders
        answer = assistant.ask("Who signed it?")        # Answer: text, citations (exact quotes), hits
        passages = assistant.search("mining deal", k=3) # Passages with source and offsets
        assistant.documents()                           # what is indexed
        assistant.remove("report.pdf")
    """

    def __init__(self, settings: Settings = Settings(), *, embedder=None, reranker=None):
        self.settings = settings
        if embedder is None:
            from rag.embedding import Embedder

            embedder = Embedder(settings.embedder, backend=settings.embedder_backend)
        self.embedder = embedder
        self._reranker = reranker
        self._seed_by_default = False  # Assistant.open() without an index: the seed corpus, indexed on first use
        self._store = None
        self._checked_at = 0.0
        self._readers: dict[tuple, object] = {}
        self._write_lock = threading.Lock()
        # Gradio answers from worker threads: loading the index, switching the embedder to the one an index was
        # built with, and making readers happen once, under this lock; questions then use what they got.
        self._state_lock = threading.RLock()

    @classmethod
    def open(cls, index: str | Path | None = None, *, reader: ReaderName = "extractive", k: int = 5,
             rerank: bool = True, embedder: str | None = None) -> "Assistant":
        """An assistant over the index at `index` (created by the first `add`): a folder, `milvus:PATH.db` or
        `http://HOST:19530`; without one, over the seed corpus, indexed into the user cache the first time."""
        from rag.retrieval import RetrievalSettings

        values: dict = {"reader": reader, "k": k, "retrieval": RetrievalSettings(rerank=rerank)}
        if index is not None:
            values.update(location_settings(index))
        if embedder is not None:
            values["embedder"] = embedder
        assistant = cls(Settings(**values))
        assistant._seed_by_default = index is None
        return assistant

    def add(self, paths: str | Path | Sequence[str | Path]):
        """Index files and folders (.txt .md .html .pdf .docx .csv .tsv .xlsx .pptx .eml .epub). Returns (UpdateReport, skipped files with reasons);
        files that cannot be read are skipped and the others indexed."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        return self.index_paths(list(paths))

    def search(self, question: str, k: int | None = None, *, sources: Sequence[str] = (),
               where: Sequence[str] = ()) -> list:
        """The k passages that best match the question (rag.types.Passage: source, offsets, text, score); with
        `sources`, among the documents they match only (`rag.scope`)."""
        from rag.types import Passage

        self._seed_if_needed()
        store = self.store
        scope = scope_of(store, sources, where)
        hits = self.retriever(store).search(clean_question(question), check_k(self.settings.k if k is None else k),
                                            scope=scope)
        return [Passage(store.document(h.chunk.doc_id).source, h.chunk.doc_id, h.chunk.start, h.chunk.end,
                        h.chunk.text, round(h.score, 6)) for h in hits]

    def documents(self) -> list:
        """What is indexed (rag.types.DocumentInfo: source, name, title, characters, chunks, size)."""
        from rag.types import DocumentInfo

        self._seed_if_needed()
        if not self.has_index():
            return []
        store = self.store
        counts = store.chunk_counts()
        return [DocumentInfo(d.source, d.name, d.title, len(d.text),
                             counts.get(d.doc_id, 0), d.meta.get("size_bytes")) for d in store.documents()]

    def _seed_if_needed(self) -> None:
        if self._seed_by_default:
            self.ensure_seed_index()

    # ----- index ---------------------------------------------------------------------------------------------

    @property
    def store(self):
        """The index as last read; re-read when another process (or a chat server sharing a Milvus) committed a newer
        generation, checked at most once every STALE_CHECK_SECONDS."""
        store = self._store
        if store is not None and not self._needs_reload(store):
            return store
        with self._state_lock:
            if self._store is None or self._store is store:
                from rag.stores import check_embedder, open_store

                self._follow_index()
                loaded = open_store(self.settings.location)
                check_embedder(loaded, self.embedder.model_id)
                self._store = loaded
            return self._store

    def _needs_reload(self, store) -> bool:
        now = time.monotonic()
        if now - self._checked_at < STALE_CHECK_SECONDS:
            return False
        self._checked_at = now
        try:
            return store.is_stale()
        except RagError:
            return False  # the location cannot be reached right now: keep answering from what was read

    def _follow_index(self) -> None:
        """Search and update an existing index with the backend that built it: int8 and fp32 vectors differ a little,
        so mixing them would cost quality; the model itself must match (check_embedder says so otherwise)."""
        from rag.embedding import Embedder, split_embedder_id
        from rag.stores import built_with as index_built_with

        built_with = index_built_with(self.settings.location)
        if built_with is None or built_with == self.embedder.model_id:
            return
        name, backend = split_embedder_id(built_with)
        with self._state_lock:
            if name == getattr(self.embedder, "name", None) and self.embedder.model_id != built_with:
                self.embedder = Embedder(name, backend=backend)
                self._readers.clear()

    def has_index(self) -> bool:
        from rag.stores import store_exists

        return store_exists(self.settings.location)

    def reload(self) -> None:
        self._store = None

    def chunker(self, chunking: ChunkSettings | None = None) -> Chunker:
        settings = chunking or self.settings.chunking or ChunkSettings()
        return Chunker(self.embedder.count_tokens, settings, max_tokens=self.embedder.max_tokens)

    def add_documents(self, documents: Sequence[Document], *, rebuild: bool = False,
                      on_progress: Callable[[int, int], None] | None = None):
        """Index documents under the store's write lock; the new generation becomes visible at once on commit."""
        from rag.indexer import Indexer
        from rag.stores import open_for_writing

        with self._write_lock, self._writing():
            if not rebuild:
                self._follow_index()
            store = open_for_writing(self.settings.location, embedder_id=self.embedder.model_id,
                                     dimension=self.embedder.dimension, chunking=self.settings.chunking, rebuild=rebuild)
            indexer = Indexer(store, self.chunker(store.info.chunking), self.embedder.embed_documents)
            report = indexer.upsert(documents, on_progress=on_progress)
            if report.changed or rebuild or not self.has_index():
                store.commit()
            self._store = store
            return report

    def _writing(self):
        from rag.stores import writing

        return writing(self.settings.location)

    def index_paths(self, paths: Sequence[str | Path], *, rebuild: bool = False, on_progress=None, on_file=None):
        """Load and index files or folders. Returns (UpdateReport, skipped files with reasons)."""
        from rag.errors import LoadError
        from rag.loaders import SUPPORTED_SUFFIXES, load_paths

        loaded = load_paths(paths, on_file=on_file)
        if not loaded.documents:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in loaded.skipped) or "nothing to read"
            raise LoadError(f"no document could be loaded ({reasons})", hint=f"pass {', '.join(SUPPORTED_SUFFIXES)} files or folders")
        report = self.add_documents(loaded.documents, rebuild=rebuild, on_progress=on_progress)
        return report, loaded.skipped

    def sync(self, folders: Sequence[str | Path], *, on_file=None):
        """Keep the index in step with folders: files added or changed since they were indexed are loaded and
        indexed, documents whose files are gone are removed, all in one commit under the write lock (nothing is
        half-visible). A file is read again only when its size or modification time changed. Returns
        (UpdateReport, skipped files with reasons); a bad file is skipped and the others still go in."""
        from rag.indexer import Indexer, UpdateReport
        from rag.stores import open_for_writing
        from rag.watch import folder_changes

        with self._write_lock, self._writing():
            self._follow_index()
            store = open_for_writing(self.settings.location, embedder_id=self.embedder.model_id,
                                     dimension=self.embedder.dimension, chunking=self.settings.chunking)
            documents, gone, skipped = folder_changes(store, folders, on_file=on_file)
            indexer = Indexer(store, self.chunker(store.info.chunking), self.embedder.embed_documents)
            report = indexer.upsert(documents) if documents else UpdateReport()
            for source in gone:
                if store.document_at(source) is not None:  # a mail's attachments went with it already
                    indexer.remove(source)
                    report.removed.append(source)
            if report.changed or not self.has_index():
                store.commit()
            self._store = store
            return report, skipped

    def remove(self, source: str) -> Document:
        from rag.indexer import Indexer
        from rag.stores import open_store

        with self._write_lock, self._writing():
            store = open_store(self.settings.location)
            removed = Indexer(store, self.chunker(store.info.chunking), self.embedder.embed_documents).remove(source)
            store.commit()
            self._store = store
            return removed

    def ensure_seed_index(self, on_progress=None) -> None:
        """Build the default index from the seed corpus the first time it is needed."""
        if self.has_index():
            return
        if not SEED_CORPUS.is_dir():
            raise IndexNotFoundError(
                f"no index in {self.settings.index_dir} and no seed corpus at {SEED_CORPUS}",
                hint="index your documents with `rag index PATH...`",
            )
        self.index_paths([SEED_CORPUS], on_progress=on_progress)

    # ----- asking ----------------------------------------------------------------------------------------------

    @property
    def reranker(self):
        """The cross-encoder of the second stage (loaded on first use and shared)."""
        if self._reranker is None:
            from rag.rerank import shared_reranker

            self._reranker = shared_reranker()
        return self._reranker

    def reader(self, name: str | None = None, **overrides):
        name = name or self.settings.reader
        if not isinstance(name, str) or name not in READERS:
            raise RagError(f"unknown reader {name!r}", hint=f"choose one of {', '.join(READERS)}")
        if not self.settings.abstain and name != "qa-model":
            overrides.setdefault("abstain", False)
        key = (name, tuple(sorted(overrides.items())))
        with self._state_lock:
            return self._readers.get(key) or self._make_reader(name, key, overrides)

    def _make_reader(self, name: str, key: tuple, overrides: dict):
        if key not in self._readers:
            from rag.readers import build_reader

            self._readers[key] = build_reader(name, self, overrides)
        return self._readers[key]

    def retriever(self, index=None, *, rerank: bool | None = None):
        from rag.retrieval import Retriever

        settings = self.settings.retrieval if rerank is None else replace(self.settings.retrieval, rerank=rerank)
        return Retriever(index or self.store, self.embedder, settings, reranker=self.reranker if settings.rerank else None)

    def ask(self, question: str, history: Sequence[str] = (), *, k: int | None = None, reader: str | None = None,
            rerank: bool | None = None, sources: Sequence[str] = (), where: Sequence[str] = ()) -> Answer:
        """Answer a question from the index, with citations read from the documents. `history` holds the earlier
        questions of a conversation, so that a follow-up ("and when?") is searched with the one it follows."""
        self._seed_if_needed()
        for event, value in self.ask_stream(question, history, k=k, reader=reader, rerank=rerank, sources=sources,
                                            where=where):
            if event == "answer":
                return value
        raise RuntimeError("the reader produced no answer")  # every reader ends with one; never expected

    def ask_stream(self, question: str, history: Sequence[str] = (), *, k: int | None = None, reader: str | None = None,
                   rerank: bool | None = None, sources: Sequence[str] = (), where: Sequence[str] = ()):
        """Yields ("stage", "searching" | "reading") as the work moves on, ("partial", text so far) while a streaming
        reader writes, then ("answer", Answer).

        `rerank` turns the cross-encoder second stage on or off for this question (default: the settings').
        `sources` scopes the question to the documents they match (file names, paths or globs: `rag.scope`), and
        `where` to those meeting every KEY:VALUE condition (type, folder, title, author, after, before).
        Closing the generator early (the person left) stops a streaming reader's generation too."""
        started = time.perf_counter()
        question = clean_question(question)
        if not metadata_question(question):  # "Who wrote the article?" is about the article itself
            question = without_corpus_reference(question)  # "... named in the article?": searched without it
        k = check_k(self.settings.k if k is None else k)
        yield "stage", "searching"
        second_stage = self.settings.retrieval.rerank if rerank is None else bool(rerank)
        chosen = self.reader(reader) if second_stage == self.settings.retrieval.rerank else self.reader(reader, rerank=second_stage)
        store = self.store  # one generation for the whole question, even if an update lands meanwhile
        scope = scope_of(store, sources, where)
        timings: dict[str, float] = {}
        # A follow-up ("when did it erupt?") is searched together with the question it follows, and read alone.
        query = retrieval_query(question, history)
        if chosen.name in ("auto", "llm-explain") and history:
            from rag.questions import resolve_followup

            resolved = resolve_followup(question, history)  # "What did she sign?" read with the name it refers to
            if resolved != question:
                query = question = resolved
        hits = self.retriever(store, rerank=second_stage).search(query, k, timings, scope)
        yield "stage", "reading"
        read_started = time.perf_counter()
        reading = None
        chosen = self._bound(chosen, store, second_stage, scope)
        with closing(chosen.stream(question, hits, store.document)) as events:
            for event, value in events:
                if event == "partial":
                    yield "partial", value
                else:
                    reading = value
        timings["reader_ms"] = (time.perf_counter() - read_started) * 1000
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        yield "answer", self._answer(question, reading, hits, timings, store.document)

    def _bound(self, reader, store, second_stage: bool, scope: frozenset[str] | None = None):
        """The auto reader searches again (a second hop, each thing a comparison names) in the same generation, and
        inside the question's scope."""
        from rag.readers.auto import AutoReader, Library

        if not isinstance(reader, AutoReader):
            return reader
        retriever = self.retriever(store, rerank=second_stage)
        return reader.bound(Library(
            search=lambda query, k: retriever.search(query, k, scope=scope),
            documents=lambda: [d for d in store.documents() if scope is None or d.doc_id in scope]))

    def _answer(self, question, reading, hits, timings, lookup) -> Answer:
        # The answer keeps the documents it cites and retrieved, as they were: an upload or removal that lands
        # while it is shown changes nothing in it.
        doc_ids = dict.fromkeys([c.doc_id for c in reading.citations] + [h.chunk.doc_id for h in hits])
        return Answer(
            question=question,
            text=reading.text,
            citations=reading.citations,
            hits=tuple(hits),
            abstained=reading.abstained,
            timings={k: round(v, 2) for k, v in timings.items()},
            confidence=round(reading.confidence, 4),
            partly_unsupported=reading.partly_unsupported,
            answer_span=reading.answer_span,
            signals={k: round(float(v), 4) for k, v in reading.signals.items()},
            documents={doc_id: lookup(doc_id) for doc_id in doc_ids},
            short=reading.short,
            kind=reading.kind,
        )

    def with_settings(self, **changes) -> "Assistant":
        """A sibling assistant sharing this one's loaded embedder (settings differ, models do not reload)."""
        other = Assistant(replace(self.settings, **changes), embedder=self.embedder, reranker=self._reranker)
        if other.settings.location == self.settings.location:
            other._store = self._store
        return other

    def over(self, documents: Sequence[Document]) -> "Assistant":
        """An assistant over these documents only, held in memory and sharing this one's models and readers: a
        question asked of its own passages (an evaluation's gold paragraph, a news question's articles). A document
        this assistant has indexed brings its chunks and vectors along; others are chunked and embedded."""
        from rag.stores import IndexInfo, new_store

        other = Assistant(replace(self.settings, store=None, index_dir=self.settings.index_dir / ".in-memory"),
                          embedder=self.embedder, reranker=self._reranker)
        other._readers = self._readers  # same settings: the same readers (a model loads once)
        mine = self._store
        info = mine.info if mine is not None else IndexInfo(self.embedder.model_id, self.embedder.dimension,
                                                            self.settings.chunking or ChunkSettings())
        store = new_store(other.settings.index_dir, info)
        fresh = []
        for document in documents:
            known = mine.document_at(document.source) if mine is not None else None
            if known is not None and known.doc_id == document.doc_id:
                chunks = mine.chunks(document.doc_id)
                store.write(document, chunks, mine.vectors([c.chunk_id for c in chunks]), mine.centroid(document.doc_id))
            else:
                fresh.append(document)
        if fresh:  # chunked and embedded into the in-memory store, never committed: nothing is written anywhere
            from rag.indexer import Indexer

            Indexer(store, other.chunker(info.chunking), self.embedder.embed_documents).upsert(fresh)
        other._store = store
        return other
