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


# ----- durability -------------------------------------------------------------------------------------------------


def add_and_save(folder: Path, corpus_dir: Path, embedder, name: str, text: str) -> Index:
    (corpus_dir / name).write_text(text, encoding="utf-8")
    index = Index.load(folder)
    index.upsert(load_paths([corpus_dir]).documents, Chunker(embedder.count_tokens, index.chunking), embedder.embed_documents)
    index.save()
    return index


def test_a_damaged_live_generation_gives_way_to_the_previous_one_with_a_warning(tmp_path, corpus_dir, fake_embedder):
    from rag.errors import IndexRecoveredWarning

    folder = tmp_path / "idx"
    first = build(folder, corpus_dir, fake_embedder).generation
    second = add_and_save(folder, corpus_dir, fake_embedder, "lakes.txt", "Lake Baikal is the deepest lake.").generation
    vectors = folder / second / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    with pytest.warns(IndexRecoveredWarning, match=rf"live generation {second}.*checksum.*earlier generation {first}"):
        recovered = Index.load(folder)
    assert recovered.generation == first
    assert len(recovered.documents) == 2 and all("Baikal" not in c.text for c in recovered.chunks)
    # The next save from the recovered index replaces the damaged generation; the warning is gone.
    recovered.save()
    assert second not in {p.name for p in folder.iterdir()}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(Index.load(folder).documents) == 2


def test_when_every_generation_is_damaged_the_error_says_how_to_rebuild(tmp_path, corpus_dir, fake_embedder):
    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder)
    add_and_save(folder, corpus_dir, fake_embedder, "lakes.txt", "Lake Baikal is the deepest lake.")
    for chunks in folder.glob("gen-*/chunks.jsonl"):
        chunks.write_text("", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=r"chunks\.jsonl is truncated or corrupted.*rag index --rebuild"):
        Index.load(folder)


def test_only_generation_folders_the_index_made_are_ever_deleted(tmp_path, corpus_dir, fake_embedder):
    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder)
    theirs = [folder / "gen-000050", folder / "gen-backup", folder / "gen-0000001"]
    for path in theirs:
        path.mkdir()
        (path / "notes.txt").write_text("mine", encoding="utf-8")
    for number in range(3):
        add_and_save(folder, corpus_dir, fake_embedder, f"extra{number}.txt", f"Extra document number {number}.")
    assert all((path / "notes.txt").read_text(encoding="utf-8") == "mine" for path in theirs)
    ours = sorted(p.name for p in folder.iterdir() if (p / ".rag-generation").is_file())
    assert ours == ["gen-000052", "gen-000053"]  # numbered past a folder that looks like one; two kept
    assert len(Index.load(folder).documents) == 5


def test_every_file_and_folder_of_a_generation_is_fsynced_before_current_switches(tmp_path, corpus_dir, fake_embedder, monkeypatch):
    import os

    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(source, target, *args, **kwargs):
        events.append(("replace", str(target)))
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    index = build(tmp_path / "idx", corpus_dir, fake_embedder)
    switch = events.index(("replace", str(tmp_path / "idx" / CURRENT)))
    synced_before = {path for kind, path in events[:switch] if kind == "fsync"}
    gen_dir = tmp_path / "idx" / index.generation
    tree = {str(gen_dir)} | {str(p) for p in gen_dir.rglob("*")}
    assert any("lexical" in path for path in tree)  # BM25 writes files of its own in a folder of its own
    assert tree <= synced_before, sorted(tree - synced_before)


def test_changed_chunk_settings_are_refused_unless_rebuilding(tmp_path, corpus_dir, fake_embedder):
    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder, ChunkSettings(chunk_tokens=16, overlap_tokens=4))
    with pytest.raises(IndexMismatchError, match=r"chunks of 16 tokens with 4 overlapping, not 32 with 4.*--rebuild"):
        open_or_create(folder, embedder_id=fake_embedder.model_id, dimension=fake_embedder.dimension,
                       chunking=ChunkSettings(chunk_tokens=32, overlap_tokens=4))
    kept = open_or_create(folder, embedder_id=fake_embedder.model_id, dimension=fake_embedder.dimension)
    assert kept.chunking == ChunkSettings(chunk_tokens=16, overlap_tokens=4) and kept.chunks
    fresh = open_or_create(folder, embedder_id=fake_embedder.model_id, dimension=fake_embedder.dimension,
                           chunking=ChunkSettings(chunk_tokens=32, overlap_tokens=4), rebuild=True)
    assert fresh.chunking.chunk_tokens == 32 and not fresh.chunks


def test_the_assistant_keeps_an_index_s_own_chunk_settings(tmp_path, corpus_dir, fake_embedder):
    from rag.assistant import Assistant, Settings

    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder, ChunkSettings(chunk_tokens=16, overlap_tokens=4))
    (corpus_dir / "lakes.txt").write_text("Lake Baikal is the deepest lake in the world by far.", encoding="utf-8")
    assistant = Assistant(Settings(index_dir=folder), embedder=fake_embedder)
    assistant.index_paths([corpus_dir])
    assert Index.load(folder).manifest()["chunking"] == {"chunk_tokens": 16, "overlap_tokens": 4}
    asked = Assistant(Settings(index_dir=folder, chunking=ChunkSettings(chunk_tokens=64, overlap_tokens=8)), embedder=fake_embedder)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        asked.index_paths([corpus_dir])
    asked.index_paths([corpus_dir], rebuild=True)
    assert Index.load(folder).manifest()["chunking"] == {"chunk_tokens": 64, "overlap_tokens": 8}


def _data_address(array) -> int:
    return array.__array_interface__["data"][0]


def _stored_vectors_address(faiss_index) -> int:
    import faiss

    flat = faiss.downcast_index(faiss_index.storage) if hasattr(faiss_index, "hnsw") else faiss_index
    return _data_address(faiss.rev_swig_ptr(flat.get_xb(), 1))


@pytest.mark.parametrize("approximate", [False, True])
def test_vectors_are_held_once_in_memory(tmp_path, corpus_dir, fake_embedder, monkeypatch, approximate):
    import rag.index

    if approximate:
        monkeypatch.setattr(rag.index, "ANN_THRESHOLD", 1)  # HNSW from the first vector
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    loaded = Index.load(tmp_path / "idx")
    assert hasattr(loaded.faiss_index, "hnsw") == approximate
    # The numpy vectors are FAISS's own memory, not a second copy of it.
    assert _data_address(loaded._vectors) == _stored_vectors_address(loaded.faiss_index)
    assert loaded._vectors.shape == (len(loaded.chunks), fake_embedder.dimension)
    query = fake_embedder.embed_queries(["Danube"])
    assert loaded.search_documents(query, 2)[0]  # centroids computed from the shared vectors
    # Growing (HNSW grows in place) or rebuilding (flat) keeps one copy too, and the vectors stay right.
    (corpus_dir / "lakes.txt").write_text("Lake Baikal is the deepest lake.", encoding="utf-8")
    loaded.upsert(load_paths([corpus_dir]).documents, Chunker(fake_embedder.count_tokens, loaded.chunking), fake_embedder.embed_documents)
    faiss_index = loaded.faiss_index
    assert _data_address(loaded._vectors) == _stored_vectors_address(faiss_index)
    assert faiss_index.ntotal == len(loaded._vectors) == len(loaded.chunks)
    import numpy as np

    assert np.allclose(loaded._vectors, faiss_index.reconstruct_n(0, faiss_index.ntotal))
    loaded.remove("rivers.txt")
    assert loaded.faiss_index.ntotal == len(loaded.chunks)
    assert np.allclose(loaded._vectors, loaded.faiss_index.reconstruct_n(0, loaded.faiss_index.ntotal))
