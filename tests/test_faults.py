"""Failures that must lose nothing: a killed indexer, corrupted files, two writers, searches during re-indexing."""

import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tests.conftest import FakeReranker

from rag.stores.folder import FolderStore

INDEXER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.conftest import FakeEmbedder
    from rag.assistant import Assistant, Settings

    class SlowEmbedder(FakeEmbedder):
        def embed_documents(self, texts, **kw):
            time.sleep(0.02)
            return super().embed_documents(texts, **kw)

    Assistant(Settings(index_dir=sys.argv[1]), embedder=SlowEmbedder()).index_paths([sys.argv[2]])
    print("done", flush=True)
    """
)


def _corpus(folder: Path, files: int, tag: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        (folder / f"doc{n}.txt").write_text(f"{tag} document {n}. " + " ".join(f"word{n}x{i}" for i in range(400)))
    return folder


KILLED_AT = textwrap.dedent(
    """
    import importlib, os, signal, sys
    sys.path.insert(0, {root!r})
    from tests.conftest import FakeEmbedder
    from rag.assistant import Assistant, Settings

    # Kill this process (SIGKILL: no cleanup, no finally) just before or just after one step of the commit.
    target, argument, when = sys.argv[3], sys.argv[4], sys.argv[5]
    owner_name, _, attribute = target.rpartition(".")
    try:
        owner = importlib.import_module(owner_name)
    except ImportError:  # a class's method: module.Class.method
        module_name, _, class_name = owner_name.rpartition(".")
        owner = getattr(importlib.import_module(module_name), class_name)
    real = getattr(owner, attribute)

    def step(*args, **kwargs):
        hit = argument == "-" or any(str(a).endswith(argument) for a in args)
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if hit and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, attribute, step)
    Assistant(Settings(index_dir=sys.argv[1]), embedder=FakeEmbedder()).index_paths([sys.argv[2]])
    print("finished without being killed", flush=True)
    """
)

# Each step of FolderStore.commit, in order, and what a reader must find if the indexer dies there: until CURRENT
# names the new generation, the old index exactly; from then on, the new one whole.
COMMIT_STEPS = [
    ("rag.stores.folder._write_file", ".rag-generation", "before", "old"),
    ("rag.stores.folder.write_catalog", "-", "after", "old"),
    ("rag.stores.faiss_store.FaissVectorStore.write", "-", "after", "old"),
    ("rag.lexical.Lexical.save", "-", "after", "old"),
    ("rag.stores.folder._write_file", "manifest.json", "after", "old"),
    ("rag.stores.folder._fsync_tree", "-", "after", "old"),
    ("rag.stores.folder._write_file", "CURRENT.tmp", "after", "old"),
    ("os.replace", "CURRENT", "after", "new"),
]


@pytest.mark.parametrize("target, argument, when, expected", COMMIT_STEPS,
                         ids=[f"{when}-{t.rsplit('.', 1)[-1]}-{a}" for t, a, when, _ in COMMIT_STEPS])
def test_an_indexer_killed_at_each_step_of_a_commit_leaves_one_whole_index(tmp_path, fake_embedder, target, argument,
                                                                            when, expected):
    from rag.assistant import Assistant, Settings
    from rag.stores.folder import MARKER

    index_dir = tmp_path / "idx"
    first = Assistant(Settings(index_dir=index_dir), embedder=fake_embedder, reranker=FakeReranker())
    first.index_paths([_corpus(tmp_path / "old", 2, "old")])
    before = FolderStore.open(index_dir)
    script = tmp_path / "indexer.py"
    script.write_text(KILLED_AT.format(root=str(Path(__file__).resolve().parent.parent)))
    process = subprocess.run([sys.executable, str(script), str(index_dir), str(_corpus(tmp_path / "new", 6, "new")),
                              target, argument, when], capture_output=True, text=True, timeout=120)
    assert process.returncode == -signal.SIGKILL, process.stdout + process.stderr  # the kill landed at that step

    after = FolderStore.open(index_dir)
    if expected == "old":
        assert after.generation == before.generation and after.chunks() == before.chunks()
    else:
        assert after.generation != before.generation and len(after.documents()) == 8
        assert after._vector_index.count() == after.chunk_count()
    answer = Assistant(Settings(index_dir=index_dir), embedder=fake_embedder, reranker=FakeReranker()).ask("old document 1 word1x5")
    assert answer.hits
    # A new writer is not blocked by the dead one's lock, finishes the job and clears the dead one's leftovers.
    Assistant(Settings(index_dir=index_dir), embedder=fake_embedder, reranker=FakeReranker()).index_paths([tmp_path / "new"])
    assert len(FolderStore.open(index_dir).documents()) == 8
    generations = [p for p in index_dir.iterdir() if (p / MARKER).exists()]
    assert len(generations) <= 2  # the live one and the one before it; a dead commit's half-written folder is gone


def test_corrupted_chunk_store_names_the_file(tmp_path, corpus_dir, fake_embedder):
    from rag.assistant import Assistant, Settings
    from rag.errors import IndexCorruptError

    assistant = Assistant(Settings(index_dir=tmp_path / "idx"), embedder=fake_embedder, reranker=FakeReranker())
    assistant.index_paths([corpus_dir])
    generation = (tmp_path / "idx" / "CURRENT").read_text()
    chunks = tmp_path / "idx" / generation / "catalog.sqlite"
    data = bytearray(chunks.read_bytes())
    data[10] ^= 0xFF
    chunks.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=r"catalog\.sqlite is truncated or corrupted.*rag index --rebuild"):
        Assistant(Settings(index_dir=tmp_path / "idx"), embedder=fake_embedder, reranker=FakeReranker()).ask("Danube?")
    # --rebuild starts over and works.
    rebuilt = Assistant(Settings(index_dir=tmp_path / "idx"), embedder=fake_embedder, reranker=FakeReranker())
    rebuilt.index_paths([corpus_dir], rebuild=True)
    assert "Danube" in rebuilt.ask("Which river flows through ten countries?").text + rebuilt.ask("Which river flows through ten countries?").citations[0].quote


def test_two_indexers_at_once_one_waits_nothing_corrupted(tmp_path):
    script = tmp_path / "indexer.py"
    script.write_text(INDEXER.format(root=str(Path(__file__).resolve().parent.parent)))
    index_dir = tmp_path / "idx"
    a = subprocess.Popen([sys.executable, str(script), str(index_dir), str(_corpus(tmp_path / "a", 15, "alpha"))], stdout=subprocess.PIPE, text=True)
    b = subprocess.Popen([sys.executable, str(script), str(index_dir), str(_corpus(tmp_path / "b", 15, "beta"))], stdout=subprocess.PIPE, text=True)
    assert a.wait(timeout=120) == 0 and b.wait(timeout=120) == 0
    index = FolderStore.open(index_dir)
    assert len(index.documents()) == 30  # both runs landed, one after the other
    assert index._vector_index.count() == index.chunk_count()


def test_searches_during_reindexing_see_old_or_new_never_a_mix(tmp_path, fake_embedder):
    from rag.assistant import Assistant, Settings

    index_dir = tmp_path / "idx"
    writer = Assistant(Settings(index_dir=index_dir), embedder=fake_embedder, reranker=FakeReranker())
    writer.index_paths([_corpus(tmp_path / "v1", 5, "old")])
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    failures: list[BaseException] = []

    def search() -> None:
        while not stop.is_set():
            try:
                index = FolderStore.open(index_dir)
                assert index._vector_index.count() == index.chunk_count()
                for chunk in index.chunks():
                    assert chunk.text == index.document(chunk.doc_id).text[chunk.start : chunk.end]
                seen.append((len(index.documents()), index.chunk_count()))
            except BaseException as exc:  # reported below
                failures.append(exc)

    thread = threading.Thread(target=search)
    thread.start()
    for round_ in range(3):
        writer.index_paths([_corpus(tmp_path / f"v{round_ + 2}", 5, f"round{round_}")])
    stop.set()
    thread.join()
    assert not failures
    assert {documents for documents, _ in seen} <= {5, 10, 15, 20}
