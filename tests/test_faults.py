"""Failures that must lose nothing: a killed indexer, corrupted files, two writers, searches during re-indexing."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
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


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5, 2.5])
def test_sigkill_during_indexing_leaves_the_previous_index(tmp_path, fake_embedder, delay):
    from rag.assistant import Assistant, Settings

    index_dir = tmp_path / "idx"
    first = Assistant(Settings(index_dir=index_dir), embedder=fake_embedder, reranker=FakeReranker())
    first.index_paths([_corpus(tmp_path / "old", 2, "old")])
    before = FolderStore.open(index_dir)
    script = tmp_path / "indexer.py"
    script.write_text(INDEXER.format(root=str(Path(__file__).resolve().parent.parent)))
    process = subprocess.Popen([sys.executable, str(script), str(index_dir), str(_corpus(tmp_path / "new", 40, "new"))],
                               stdout=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    after = FolderStore.open(index_dir)  # loads, whatever the moment of the kill
    assert after.catalog.chunks() == before.catalog.chunks() or len(after.catalog.documents) == 42
    answer = Assistant(Settings(index_dir=index_dir), embedder=fake_embedder, reranker=FakeReranker()).ask("old document 1 word1x5")
    assert answer.hits
    # A new writer is not blocked by the dead one's lock and finishes the job.
    report, _ = Assistant(Settings(index_dir=index_dir), embedder=fake_embedder, reranker=FakeReranker()).index_paths([tmp_path / "new"])
    assert len(FolderStore.open(index_dir).catalog.documents) == 42


def test_corrupted_chunk_store_names_the_file(tmp_path, corpus_dir, fake_embedder):
    from rag.assistant import Assistant, Settings
    from rag.errors import IndexCorruptError

    assistant = Assistant(Settings(index_dir=tmp_path / "idx"), embedder=fake_embedder, reranker=FakeReranker())
    assistant.index_paths([corpus_dir])
    generation = (tmp_path / "idx" / "CURRENT").read_text()
    chunks = tmp_path / "idx" / generation / "chunks.jsonl"
    data = bytearray(chunks.read_bytes())
    data[10] ^= 0xFF
    chunks.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=r"chunks\.jsonl is truncated or corrupted.*rag index --rebuild"):
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
    assert len(index.catalog.documents) == 30  # both runs landed, one after the other
    assert index.vectors.count() == index.catalog.chunk_count()


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
                assert index.vectors.count() == index.catalog.chunk_count()
                for chunk in index.catalog.chunks():
                    assert chunk.text == index.catalog.document(chunk.doc_id).text[chunk.start : chunk.end]
                seen.append((len(index.catalog.documents), index.catalog.chunk_count()))
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
