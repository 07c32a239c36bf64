"""One contract, every store: a FAISS folder, Milvus Lite (a .db file) and a real Milvus standalone server.

The server is the binary bundled in the `milvus` wheel, started by the fixture with every component bound to
127.0.0.1 (nothing listens beyond loopback) and stopped at the end; its tests skip with the reason when the wheel is
missing. Each test gets its own collection prefix, so tests never see each other's rows.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FakeReranker

from rag.assistant import Assistant, Settings
from rag.chunking import Chunker, ChunkSettings
from rag.errors import IndexMismatchError, IndexNotFoundError, LoadError
from rag.indexer import Indexer
from rag.loaders import load_paths
from rag.stores import open_for_writing, open_store, store_exists

_names = itertools.count()


class LoopbackMilvus:
    """The bundled Milvus 2.3.5 standalone server in a network namespace of its own (tests/milvus_sandbox.py),
    reached through a Unix socket: its components talk over the namespace's loopback and nothing listens outside."""

    def __init__(self, folder: Path):
        import milvus

        data = Path(milvus.__file__).parent / "data"
        template = (data / "config.yaml.template").read_text(encoding="utf-8")
        # Every component's `ip:` is empty in the template (= the first non-loopback address): pin it to loopback.
        template = re.sub(r"^(\s*)ip:\s*#.*$", r"\1ip: 127.0.0.1", template, flags=re.M)
        (folder / "template.yaml").write_text(template, encoding="utf-8")
        self.config = milvus.MilvusServerConfig(template=str(folder / "template.yaml"), data_dir=str(folder / "data"))
        self.config.glog_conf_file = str(data / "glog.conf")  # the package sets it only for its default template
        self.socket = folder / "milvus.sock"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import milvus

        self.config.resolve()  # writes the config files and chooses free ports
        self.config.cleanup_listen_ports()
        milvus._initialize_data_files(self.config.base_data_dir)
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--net", sys.executable, str(Path(__file__).parent / "milvus_sandbox.py"),
             self.config.base_data_dir, str(self.socket), str(self.config.get("proxy_port")), "9091"],
            start_new_session=True, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the Milvus server did not start: {self.process.stderr.read()[-2000:]}")
            time.sleep(0.2)

    def _signal(self, number: int) -> None:
        try:
            os.killpg(self.process.pid, number)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        if self.process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self._signal(signal.SIGKILL)  # anything left in the group
        self.process = None

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    @property
    def uri(self) -> str:
        return f"unix:{self.socket}"

    def tcp_listeners(self) -> list[str]:
        """Listening TCP sockets of this machine's (outer) network that belong to a milvus process."""
        out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
        return [line for line in out.splitlines() if '"milvus"' in line]


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    pytest.importorskip("milvus", reason="the milvus wheel (Milvus standalone server) is not installed")
    server = LoopbackMilvus(tmp_path_factory.mktemp("milvus"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["folder", "milvus-lite", "milvus-server"])
def location(request, tmp_path):
    if request.param == "folder":
        return str(tmp_path / "idx")
    if request.param == "milvus-lite":
        return f"milvus:{tmp_path / 'index.db'}"
    server = request.getfixturevalue("milvus_server")
    return f"{server.uri}#t{next(_names)}_{int(time.time())}"


def assistant_for(location: str, embedder) -> Assistant:
    return Assistant(Settings(store=location, chunking=ChunkSettings(chunk_tokens=16, overlap_tokens=4)),
                     embedder=embedder, reranker=FakeReranker())


def test_a_store_of_hundreds_of_documents_opens_and_replaces_them(location, tmp_path, fake_embedder):
    """Reading and cleaning up go by simple expressions: Milvus Lite 2.4 rejects a long chain of
    (doc_id == .. and gen == ..) alternatives, which once made a store of a few hundred documents unopenable."""
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(300):
        (folder / f"note{n}.txt").write_text(f"Note {n} records lot {n * 7} shipped to depot {n % 13}.")
    assistant = assistant_for(location, fake_embedder)
    assistant.index_paths([folder])
    store = open_store(location)
    assert len(store.documents()) == 300 and store.chunk_count() == 300
    for n in range(0, 300, 2):  # half of them change: their old rows are superseded and cleaned up
        (folder / f"note{n}.txt").write_text(f"Note {n} records lot {n * 7} returned from depot {n % 13}.")
    report, _ = assistant_for(location, fake_embedder).index_paths([folder])
    assert len(report.replaced) == 150
    store = open_store(location)
    assert store.chunk_count() == 300 and sum("returned" in c.text for c in store.chunks()) == 150


def test_indexed_documents_are_read_back_with_exact_offsets(location, corpus_dir, fake_embedder):
    assert not store_exists(location)
    with pytest.raises(IndexNotFoundError, match="no index in"):
        open_store(location)
    report, _ = assistant_for(location, fake_embedder).index_paths([corpus_dir])
    assert len(report.added) == 2
    store = open_store(location)
    assert {Path(s).name for s in store.sources()} == {"rivers.txt", "volcanoes.md"}
    assert store._vector_index.count() == store.chunk_count() > 2
    for chunk in store.chunks():
        assert chunk.text == store.document(chunk.doc_id).text[chunk.start : chunk.end]
    query = fake_embedder.embed_queries(["The Danube flows through ten countries"])
    best, score = store.dense(query, 1)[0][0]
    assert "Danube" in store.chunk(best).text and 0 < score <= 1.0001
    assert store.info.embedder_id == fake_embedder.model_id and store.info.chunking.chunk_tokens == 16


def test_hybrid_answers_cite_the_span_from_every_store(location, corpus_dir, fake_embedder):
    assistant = assistant_for(location, fake_embedder)
    assistant.index_paths([corpus_dir])
    answer = assistant_for(location, fake_embedder).ask("Which volcano erupted in 1669?")
    assert "1669" in answer.hits[0].chunk.text and "1669" in answer.citations[0].quote
    citation = answer.citations[0]
    assert answer.document(citation.doc_id).text[citation.start : citation.end] == citation.quote


def test_a_scoped_question_ranks_only_its_documents_on_every_store(location, corpus_dir, fake_embedder):
    assistant = assistant_for(location, fake_embedder)
    assistant.index_paths([corpus_dir])
    question = "Which volcano erupted in 1669?"
    unscoped = assistant.ask(question, k=5)
    assert any(unscoped.document(h.chunk.doc_id).name == "volcanoes.md" for h in unscoped.hits)
    for pattern in ("rivers.txt", "*.txt", "RIVERS*"):
        scoped = assistant.ask(question, k=5, sources=[pattern])
        cited = {Path(scoped.document(c.doc_id).source).name for c in scoped.citations}
        found = {Path(scoped.document(h.chunk.doc_id).source).name for h in scoped.hits}
        assert found == {"rivers.txt"} and cited <= {"rivers.txt"}, pattern  # every span from the scope
        store = open_store(location)
        in_scope = sum(1 for c in store.chunks() if store.document(c.doc_id).name == "rivers.txt")
        assert len(scoped.hits) == min(5, in_scope)  # ranked among the scope: not the global top-5 filtered
    with pytest.raises(Exception, match="no indexed document matches 'report.pdf'"):
        assistant.ask(question, sources=["report.pdf"])


@pytest.mark.parametrize("location", ["milvus-lite", "milvus-server"], indirect=True)  # (the folder store ranks a
def test_milvus_ranks_a_scope_itself_under_a_filter_of_catalog_ids(location, corpus_dir, fake_embedder):  # scope in memory)
    from rag.stores.base import exact_top_k

    (corpus_dir / "lakes.txt").write_text("Lake Baikal is the deepest lake on Earth, 1,642 metres deep.\n")
    assistant = assistant_for(location, fake_embedder)
    assistant.index_paths([corpus_dir])
    store = open_store(location)
    by_name = {d.name: d.doc_id for d in store.documents()}
    query = fake_embedder.embed_queries(["How deep is the deepest lake?"])
    for names in (["rivers.txt"], ["rivers.txt", "lakes.txt"]):  # a short "in" list, then its "not in" complement
        scope = frozenset(by_name[n] for n in names)
        ids = [c.chunk_id for d in sorted(scope) for c in store.chunks(d)]
        found = store._dense_within(query, 3, scope, len(ids))
        expected = exact_top_k(query, ids, store.vectors(ids), 3)
        assert [c for c, _ in found[0]] == [c for c, _ in expected[0]]
        assert {store.chunk(c).doc_id for c, _ in found[0]} <= scope
    with pytest.raises(ValueError, match="catalog's own ids"):
        store._dense_within(query, 3, frozenset({'x" or doc_id != "'}), 1)


@pytest.mark.parametrize("location", ["folder", "milvus-lite"], indirect=True)  # a 2.3 server ranks as a folder does
def test_bm25_ranks_chunks_and_documents_by_their_words_on_either_side(location, corpus_dir, fake_embedder):
    """One lexical contract whether bm25s ranks on the client or Milvus computes BM25 itself: the chunk and the
    document that hold the (stemmed) words come first, a scope is kept, stop words alone find nothing, and a removed
    document is found no more. (On a 2.3 server BM25 is the client's, the folder's code; that the server's store
    falls back to it is the next test.)"""
    assistant = assistant_for(location, fake_embedder)
    assistant.index_paths([corpus_dir])
    store = open_store(location)
    rivers = next(s for s in store.sources() if s.endswith("rivers.txt"))
    rivers_id = store.document_at(rivers).doc_id
    best = store.lexical(["erupting"], 3)[0]
    assert best and "erupted" in store.chunk(best[0][0]).text  # erupting and erupted share their stem
    assert store.lexical_documents(["which sea does it flow into"], 2)[0][0][0] == rivers_id
    scoped = store.lexical(["volcano Danube Etna"], 5, scope=frozenset({rivers_id}))[0]
    assert scoped and {store.chunk(c).doc_id for c, _ in scoped} == {rivers_id}
    assert store.lexical(["the and of"], 3) == [[]] and store.lexical_documents(["the and of"], 3) == [[]]
    assistant.remove(rivers)
    store = open_store(location)
    assert store.lexical(["Danube"], 3) == [[]] and store.lexical_documents(["Danube"], 3) == [[]]
    assert store.lexical(["Etna"], 3)[0]


@pytest.mark.parametrize("location", ["milvus-lite", "milvus-server"], indirect=True)
def test_milvus_computes_bm25_itself_where_the_server_can(location, corpus_dir, fake_embedder):
    """Milvus Lite 2.5 computes BM25 (no process builds or caches one); the 2.3 server cannot, and its store is
    created without the BM25 function, ranking on the client as before."""
    from rag.paths import cache_dir

    assistant_for(location, fake_embedder).index_paths([corpus_dir])
    store = open_store(location)
    lite = location.startswith("milvus:")
    assert store.describe()["bm25"] == ("milvus" if lite else "client")
    states = cache_dir() / "milvus" / hashlib.sha256(store.location.encode()).hexdigest()[:16]
    assert list(states.glob("*/catalog.sqlite"))
    cached_bm25 = list(states.glob("*/lexical"))
    assert bool(cached_bm25) is not lite
    assert "Danube" in store.chunk(store.lexical(["Danube"], 1)[0][0][0]).text


def test_unchanged_files_embed_nothing_and_a_changed_one_replaces_its_chunks(location, corpus_dir, fake_embedder):
    assistant_for(location, fake_embedder).index_paths([corpus_dir])
    before = fake_embedder.embedded_texts
    report, _ = assistant_for(location, fake_embedder).index_paths([corpus_dir])
    assert fake_embedder.embedded_texts == before and len(report.unchanged) == 2 and not report.changed
    (corpus_dir / "rivers.txt").write_text("The Loire is the longest river in France.", encoding="utf-8")
    report, _ = assistant_for(location, fake_embedder).index_paths([corpus_dir])
    assert len(report.replaced) == 1
    store = open_store(location)
    texts = " ".join(c.text for c in store.chunks())
    assert "Loire" in texts and "Danube" not in texts and len(store.documents()) == 2
    found = store.dense(fake_embedder.embed_queries(["Danube river countries"]), 50)[0]
    assert all("Danube" not in store.chunk(c).text for c, _ in found)
    assert store._vector_index.count() == store.chunk_count()


def test_removing_a_document_removes_its_vectors(location, corpus_dir, fake_embedder):
    assistant = assistant_for(location, fake_embedder)
    assistant.index_paths([corpus_dir])
    assistant.remove("rivers.txt")
    store = open_store(location)
    assert [Path(s).name for s in store.sources()] == ["volcanoes.md"]
    found = store.dense(fake_embedder.embed_queries(["Danube"]), 50)[0]
    assert found and all(store.chunk(c).doc_id == next(iter(store.documents())).doc_id for c, _ in found)
    with pytest.raises(LoadError, match="not in the index"):
        assistant.remove("rivers.txt")


def test_nothing_is_visible_before_commit_and_everything_after(location, corpus_dir, fake_embedder):
    assistant_for(location, fake_embedder).index_paths([corpus_dir])
    reader = open_store(location)
    writer = open_for_writing(location, embedder_id=fake_embedder.model_id, dimension=fake_embedder.dimension)
    (corpus_dir / "lakes.txt").write_text("Lake Baikal is the deepest lake in the world.", encoding="utf-8")
    Indexer(writer, Chunker(fake_embedder.count_tokens, writer.info.chunking), fake_embedder.embed_documents).upsert(
        load_paths([corpus_dir]).documents)
    assert not reader.is_stale()
    assert len(open_store(location).documents()) == 2  # written, not committed: not read
    writer.commit()
    assert reader.is_stale()
    fresh = open_store(location)
    assert len(fresh.documents()) == 3
    hits = fresh.dense(fake_embedder.embed_queries(["Lake Baikal deepest lake"]), 1)[0]
    assert "Baikal" in fresh.chunk(hits[0][0]).text


def test_another_embedder_is_refused(location, corpus_dir, fake_embedder):
    assistant_for(location, fake_embedder).index_paths([corpus_dir])
    with pytest.raises(IndexMismatchError, match=r"built with embedder fake/hash-embedder \(64-d\), not other/model"):
        open_for_writing(location, embedder_id="other/model", dimension=384)


def test_a_rebuild_replaces_every_document(location, corpus_dir, fake_embedder, tmp_path):
    assistant_for(location, fake_embedder).index_paths([corpus_dir])
    other = tmp_path / "other"
    other.mkdir()
    (other / "lakes.txt").write_text("Lake Baikal is the deepest lake in the world.", encoding="utf-8")
    assistant_for(location, fake_embedder).index_paths([other], rebuild=True)
    store = open_store(location)
    assert [Path(s).name for s in store.sources()] == ["lakes.txt"]
    assert all("Baikal" in c.text or "deepest" in c.text or "lake" in c.text for c in store.chunks())


# ----- Milvus only -------------------------------------------------------------------------------------------------


def test_the_server_listens_on_nothing_but_its_socket(milvus_server):
    from rag.stores import store_exists

    assert milvus_server.tcp_listeners() == []  # its ports exist only inside its own network namespace
    assert store_exists(f"{milvus_server.uri}#nothing_here") is False  # and it answers through the socket


def test_two_chat_servers_on_one_milvus_see_each_other_s_uploads(milvus_server, corpus_dir, fake_embedder, tmp_path,
                                                                  monkeypatch):
    import rag.assistant

    monkeypatch.setattr(rag.assistant, "STALE_CHECK_SECONDS", 0.0)
    from ui.app import ChatApp

    location = f"{milvus_server.uri}#shared{int(time.time())}"
    first, second = (ChatApp(assistant_for(location, fake_embedder)) for _ in range(2))
    first.assistant.index_paths([corpus_dir])
    assert len(second.documents_table()) == 2
    upload = tmp_path / "lakes.txt"
    upload.write_text("Lake Baikal in Siberia is the deepest lake in the world.", encoding="utf-8")
    first.upload([str(upload)])
    assert any(row[0].startswith("lakes") for row in second.documents_table())
    answer = second.ask_api("Which lake is the deepest in the world?")
    assert "Baikal" in answer["citations"][0]["quote"]
    (tmp_path / "glaciers.txt").write_text("The Perito Moreno glacier advances across Lago Argentino.", encoding="utf-8")
    second.upload([str(tmp_path / "glaciers.txt")])
    assert any(row[0].startswith("glaciers") for row in first.documents_table())


def _when_up(action, seconds: float = 90):
    """`action` once a restarted server answers (it replays its log first)."""
    from rag.stores.milvus_store import MilvusUnavailableError

    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except MilvusUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_a_server_killed_while_indexing_leaves_no_half_written_generation(tmp_path, fake_embedder, corpus_dir, monkeypatch):
    pytest.importorskip("milvus", reason="the milvus wheel (Milvus standalone server) is not installed")
    import rag.stores.milvus_client as milvus_client

    monkeypatch.setattr(milvus_client, "CALL_SECONDS", 4)  # a dead server is given up on sooner than a user would
    from rag.stores.milvus_store import MilvusUnavailableError

    server = LoopbackMilvus(tmp_path)
    server.start()
    try:
        location = f"{server.uri}#killed"
        assistant_for(location, fake_embedder).index_paths([corpus_dir])
        big = tmp_path / "big"
        big.mkdir()
        for n in range(30):
            (big / f"doc{n}.txt").write_text(f"Document {n} about topic {n}. " + " ".join(f"w{n}x{i}" for i in range(300)))

        import rag.stores.milvus_store as milvus_store

        original, calls = milvus_store.MilvusVectorStore.upsert, []

        def upsert_then_die(self, chunks, vectors):
            calls.append(len(chunks))
            if len(calls) == 3:  # two documents' chunk rows are written; the server dies under the third
                server.kill()
            return original(self, chunks, vectors)

        milvus_store.MilvusVectorStore.upsert = upsert_then_die
        try:
            with pytest.raises(MilvusUnavailableError, match=r"Milvus at .* failed.*check that it is running"):
                assistant_for(location, fake_embedder).index_paths([big])
        finally:
            milvus_store.MilvusVectorStore.upsert = original
        server.start()
        store = _when_up(lambda: open_store(location))
        assert {Path(s).name for s in store.sources()} == {"rivers.txt", "volcanoes.md"}
        assert store._vector_index.count() == store.chunk_count()
        hits = store.dense(fake_embedder.embed_queries(["Document 3 about topic 3"]), 20)[0]
        assert all(store.chunk(c) is not None for c, _ in hits)
        # The next run indexes everything and the dead run's rows stay out of sight.
        assistant_for(location, fake_embedder).index_paths([big])
        assert len(open_store(location).documents()) == 32
    finally:
        server.stop()


def test_an_unreachable_server_is_a_clear_error(fake_embedder, monkeypatch):
    import rag.stores.milvus_client as milvus_client
    from rag.stores.milvus_store import MilvusUnavailableError

    monkeypatch.setattr(milvus_client, "CONNECT_SECONDS", 2)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MilvusUnavailableError, match=rf"127\.0\.0\.1:{port}.*check that it is running"):
        assistant_for(f"http://127.0.0.1:{port}", fake_embedder).ask("anything?")


def test_an_index_moves_into_another_store_without_embedding_again(location, tmp_path, corpus_dir, fake_embedder, capsys):
    from rag import cli
    from rag.stores import copy_index

    source = tmp_path / "source-index"
    Assistant(Settings(index_dir=source, chunking=ChunkSettings(chunk_tokens=16, overlap_tokens=4)),
              embedder=fake_embedder, reranker=FakeReranker()).index_paths([corpus_dir])
    before = fake_embedder.embedded_texts
    if location.startswith(("milvus:", "unix:")):
        assert cli.main(["index", "--from", str(source), "--store", location]) == 0
        assert "Copied" in capsys.readouterr().out
    else:
        copy_index(source, location)
    assert fake_embedder.embedded_texts == before
    moved, original = open_store(location), open_store(source)
    assert set(moved.sources()) == set(original.sources())
    assert moved.chunks() == original.chunks() and moved.info == original.info
    query = fake_embedder.embed_queries(["The Danube flows through ten countries"])
    assert [c for c, _ in moved.dense(query, 3)[0]] == [c for c, _ in original.dense(query, 3)[0]]
    answer = assistant_for(location, fake_embedder).ask("Which volcano erupted in 1669?")
    assert "1669" in answer.citations[0].quote


def test_a_milvus_store_is_read_from_milvus_once_per_visible_state(tmp_path, corpus_dir, fake_embedder, monkeypatch):
    import rag.stores.milvus_cache as milvus_cache

    location = f"milvus:{tmp_path / 'cached.db'}"
    assistant_for(location, fake_embedder).index_paths([corpus_dir])
    reads, original = [], milvus_cache.read_catalog
    monkeypatch.setattr(milvus_cache, "read_catalog", lambda store, live: reads.append(1) or original(store, live))
    first, second = open_store(location), open_store(location)
    assert len(reads) == 1 and second.chunks() == first.chunks() and second.documents() == first.documents()
    query = fake_embedder.embed_queries(["Danube flows through ten countries"])
    assert second.lexical(["Danube countries"], 3) == first.lexical(["Danube countries"], 3)
    assert second.dense_documents(query, 1)[0][0][0] == first.document_at(
        next(s for s in first.sources() if s.endswith("rivers.txt"))).doc_id
    (corpus_dir / "lakes.txt").write_text("Lake Baikal is the deepest lake on Earth.", encoding="utf-8")
    assistant_for(location, fake_embedder).index_paths([corpus_dir])  # opens the cached state, then commits a new one
    third = open_store(location)
    assert len(reads) == 2 and any(s.endswith("lakes.txt") for s in third.sources())
    assert "Baikal" in third.chunk(third.lexical(["Baikal deepest lake"], 1)[0][0][0]).text


def test_a_milvus_store_opens_without_a_writable_cache(tmp_path, corpus_dir, fake_embedder, monkeypatch, caplog):
    location = f"milvus:{tmp_path / 'uncached.db'}"
    assistant_for(location, fake_embedder).index_paths([corpus_dir])
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would go", encoding="utf-8")
    monkeypatch.setenv("RAG_CACHE_DIR", str(blocked))
    store = open_store(location)  # held in memory instead, with a warning that names the folder
    assert len(store.documents()) == 2 and "Danube" in store.chunk(store.lexical(["Danube countries"], 1)[0][0][0]).text
    assert "cannot be written" in caplog.text and str(blocked) in caplog.text
