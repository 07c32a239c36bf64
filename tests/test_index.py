import json
import multiprocessing
import time
from pathlib import Path

import pytest

from rag.chunking import Chunker, ChunkSettings
from rag.errors import IndexBusyError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, LoadError
from rag.index import CURRENT, Index, locked, open_or_create
from rag.loaders import load_paths


def build(folder: Path, corpus_dir: Path, embedder, settings=ChunkSettings(chunk_tokens=16, overlap_tokens=4)) -> Index:
    index = open_or_create(folder, embedder_id=embedder.model_id, dimension=embedder.dimension, chunking=settings)
    index.upsert(load_paths([corpus_dir]).documents, Chunker(embedder.count_tokens, settings), embedder.embed_documents)
    index.save()
    return index


def test_save_and_load_round_trip(tmp_path, corpus_dir, fake_embedder):
    built = build(tmp_path / "idx", corpus_dir, fake_embedder)
    loaded = Index.load(tmp_path / "idx")
    assert loaded.chunks == built.chunks
    assert set(loaded.documents) == set(built.documents)
    for chunk in loaded.chunks:
        assert chunk.text == loaded.document(chunk.doc_id).text[chunk.start : chunk.end]
    manifest = loaded.manifest()
    assert manifest["embedder"] == {"id": fake_embedder.model_id, "dimension": fake_embedder.dimension}
    assert manifest["chunking"] == {"chunk_tokens": 16, "overlap_tokens": 4}
    assert {d["doc_id"] for d in manifest["documents"].values()} == {d.doc_id for d in built.documents.values()}
    query = fake_embedder.embed_queries(["Danube flows through ten countries"])
    assert loaded.search(query, 3) == built.search(query, 3)
    assert "Danube" in loaded.chunks[loaded.search(query, 1)[0][0][0]].text


def test_reindexing_unchanged_files_embeds_nothing(tmp_path, corpus_dir, fake_embedder):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    before = fake_embedder.embedded_texts
    index = Index.load(tmp_path / "idx")
    report = index.upsert(load_paths([corpus_dir]).documents, Chunker(fake_embedder.count_tokens, index.chunking), fake_embedder.embed_documents)
    assert fake_embedder.embedded_texts == before
    assert len(report.unchanged) == 2 and not report.changed


def test_a_changed_file_replaces_its_chunks(tmp_path, corpus_dir, fake_embedder):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    (corpus_dir / "rivers.txt").write_text("The Loire is the longest river in France.")
    index = Index.load(tmp_path / "idx")
    report = index.upsert(load_paths([corpus_dir]).documents, Chunker(fake_embedder.count_tokens, index.chunking), fake_embedder.embed_documents)
    index.save()
    assert len(report.replaced) == 1 and report.chunks_embedded == 1
    reloaded = Index.load(tmp_path / "idx")
    texts = " ".join(c.text for c in reloaded.chunks)
    assert "Loire" in texts and "Danube" not in texts
    assert len(reloaded.documents) == 2


def test_remove_a_document(tmp_path, corpus_dir, fake_embedder):
    index = build(tmp_path / "idx", corpus_dir, fake_embedder)
    index.remove("rivers.txt")
    index.save()
    reloaded = Index.load(tmp_path / "idx")
    assert [Path(s).name for s in reloaded.documents] == ["volcanoes.md"]
    assert all("Danube" not in c.text for c in reloaded.chunks)
    assert reloaded.faiss_index.ntotal == len(reloaded.chunks)
    with pytest.raises(LoadError, match="not in the index"):
        reloaded.remove("rivers.txt")


def test_another_embedder_is_refused(tmp_path, corpus_dir, fake_embedder):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    with pytest.raises(IndexMismatchError, match=r"built with embedder fake/hash-embedder \(64-d\), not other/model \(384-d\)"):
        open_or_create(tmp_path / "idx", embedder_id="other/model", dimension=384, chunking=ChunkSettings())
    with pytest.raises(IndexMismatchError, match="rag index --rebuild"):
        Index.load(tmp_path / "idx").check_embedder("fake/hash-embedder", 128)


def test_a_crash_in_the_middle_of_a_save_leaves_the_previous_index(tmp_path, corpus_dir, fake_embedder, monkeypatch):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    (corpus_dir / "new.txt").write_text("Lake Baikal is the deepest lake in the world.")
    index = Index.load(tmp_path / "idx")
    index.upsert(load_paths([corpus_dir]).documents, Chunker(fake_embedder.count_tokens, index.chunking), fake_embedder.embed_documents)

    import faiss

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError, match="disk full"):
        index.save()
    monkeypatch.undo()
    survivor = Index.load(tmp_path / "idx")
    assert len(survivor.documents) == 2
    assert all("Baikal" not in c.text for c in survivor.chunks)
    # The next save succeeds and cleans the crashed generation up.
    index.save()
    assert len(Index.load(tmp_path / "idx").documents) == 3
    assert len(list((tmp_path / "idx").glob("gen-*"))) == 2


def test_a_corrupted_file_is_named_with_the_way_to_rebuild(tmp_path, corpus_dir, fake_embedder):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    generation = (tmp_path / "idx" / CURRENT).read_text()
    vectors = tmp_path / "idx" / generation / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match=r"vectors\.faiss is truncated or corrupted.*rag index --rebuild"):
        Index.load(tmp_path / "idx")
    (tmp_path / "idx" / generation / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match=r"manifest\.json is corrupted"):
        Index.load(tmp_path / "idx")


def test_missing_index(tmp_path):
    with pytest.raises(IndexNotFoundError, match="no index in"):
        Index.load(tmp_path / "nothing")


def _hold_lock(folder: str, seconds: float, ready) -> None:
    with locked(folder):
        ready.set()
        time.sleep(seconds)


def test_a_second_writer_fails_clearly_while_the_first_holds_the_lock(tmp_path):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path), 3.0, ready))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(IndexBusyError, match="another process is writing the index"):
            with locked(tmp_path, wait_seconds=0.2):
                pass
    finally:
        holder.join()
    with locked(tmp_path, wait_seconds=0.2):
        pass
