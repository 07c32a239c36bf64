import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest

from rag.chunking import Chunker, ChunkSettings
from rag.errors import IndexBusyError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, LoadError
from rag.indexer import Indexer
from rag.loaders import load_paths
from rag.stores import check_embedder, open_for_writing
from rag.stores.folder import CURRENT, FolderStore, locked


def indexer(store, embedder) -> Indexer:
    return Indexer(store, Chunker(embedder.count_tokens, store.info.chunking), embedder.embed_documents)


def build(folder: Path, corpus_dir: Path, embedder, settings=ChunkSettings(chunk_tokens=16, overlap_tokens=4)) -> FolderStore:
    store = open_for_writing(folder, embedder_id=embedder.model_id, dimension=embedder.dimension, chunking=settings)
    indexer(store, embedder).upsert(load_paths([corpus_dir]).documents)
    store.commit()
    return store


def test_save_and_load_round_trip(tmp_path, corpus_dir, fake_embedder):
    built = build(tmp_path / "idx", corpus_dir, fake_embedder)
    loaded = FolderStore.open(tmp_path / "idx")
    assert loaded.chunks() == built.chunks()
    assert set(loaded.sources()) == set(built.sources())
    for chunk in loaded.chunks():
        assert chunk.text == loaded.document(chunk.doc_id).text[chunk.start : chunk.end]
    manifest = loaded.describe()
    assert manifest["embedder"] == {"id": fake_embedder.model_id, "dimension": fake_embedder.dimension}
    assert manifest["chunking"] == {"chunk_tokens": 16, "overlap_tokens": 4}
    assert manifest["document_count"] == len(built.documents()) and manifest["chunk_count"] == len(built.chunks())
    query = fake_embedder.embed_queries(["Danube flows through ten countries"])
    assert loaded.dense(query, 3) == built.dense(query, 3)
    assert "Danube" in loaded.chunk(loaded.dense(query, 1)[0][0][0]).text


def test_reindexing_unchanged_files_embeds_nothing(tmp_path, corpus_dir, fake_embedder):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    before = fake_embedder.embedded_texts
    index = FolderStore.open(tmp_path / "idx")
    report = indexer(index, fake_embedder).upsert(load_paths([corpus_dir]).documents)
    assert fake_embedder.embedded_texts == before
    assert len(report.unchanged) == 2 and not report.changed


def test_a_changed_file_replaces_its_chunks(tmp_path, corpus_dir, fake_embedder):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    (corpus_dir / "rivers.txt").write_text("The Loire is the longest river in France.")
    index = FolderStore.open(tmp_path / "idx")
    report = indexer(index, fake_embedder).upsert(load_paths([corpus_dir]).documents)
    index.commit()
    assert len(report.replaced) == 1 and report.chunks_embedded == 1
    reloaded = FolderStore.open(tmp_path / "idx")
    texts = " ".join(c.text for c in reloaded.chunks())
    assert "Loire" in texts and "Danube" not in texts
    assert len(reloaded.documents()) == 2


def test_remove_a_document(tmp_path, corpus_dir, fake_embedder):
    index = build(tmp_path / "idx", corpus_dir, fake_embedder)
    indexer(index, fake_embedder).remove("rivers.txt")
    index.commit()
    reloaded = FolderStore.open(tmp_path / "idx")
    assert [Path(s).name for s in reloaded.sources()] == ["volcanoes.md"]
    assert all("Danube" not in c.text for c in reloaded.chunks())
    assert reloaded._vector_index.count() == len(reloaded.chunks())
    with pytest.raises(LoadError, match="not in the index"):
        indexer(reloaded, fake_embedder).remove("rivers.txt")


def test_another_embedder_is_refused(tmp_path, corpus_dir, fake_embedder):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    with pytest.raises(IndexMismatchError, match=r"built with embedder fake/hash-embedder \(64-d\), not other/model \(384-d\)"):
        open_for_writing(tmp_path / "idx", embedder_id="other/model", dimension=384, chunking=ChunkSettings())
    with pytest.raises(IndexMismatchError, match="rag index --rebuild"):
        check_embedder(FolderStore.open(tmp_path / "idx"), "fake/hash-embedder", 128)


def test_a_crash_in_the_middle_of_a_save_leaves_the_previous_index(tmp_path, corpus_dir, fake_embedder, monkeypatch):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    (corpus_dir / "new.txt").write_text("Lake Baikal is the deepest lake in the world.")
    index = FolderStore.open(tmp_path / "idx")
    indexer(index, fake_embedder).upsert(load_paths([corpus_dir]).documents)

    import faiss

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError, match="disk full"):
        index.commit()
    monkeypatch.undo()
    survivor = FolderStore.open(tmp_path / "idx")
    assert len(survivor.documents()) == 2
    assert all("Baikal" not in c.text for c in survivor.chunks())
    # The next save succeeds and cleans the crashed generation up.
    index.commit()
    assert len(FolderStore.open(tmp_path / "idx").documents()) == 3
    assert len(list((tmp_path / "idx").glob("gen-*"))) == 2


def test_a_corrupted_file_is_named_with_the_way_to_rebuild(tmp_path, corpus_dir, fake_embedder):
    build(tmp_path / "idx", corpus_dir, fake_embedder)
    generation = (tmp_path / "idx" / CURRENT).read_text()
    vectors = tmp_path / "idx" / generation / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match=r"vectors\.faiss is truncated or corrupted.*rag index --rebuild"):
        FolderStore.open(tmp_path / "idx")
    (tmp_path / "idx" / generation / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match=r"manifest\.json is corrupted"):
        FolderStore.open(tmp_path / "idx")


def test_missing_index(tmp_path):
    with pytest.raises(IndexNotFoundError, match="no index in"):
        FolderStore.open(tmp_path / "nothing")


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


def add_and_save(folder: Path, corpus_dir: Path, embedder, name: str, text: str) -> FolderStore:
    (corpus_dir / name).write_text(text, encoding="utf-8")
    index = FolderStore.open(folder)
    indexer(index, embedder).upsert(load_paths([corpus_dir]).documents)
    index.commit()
    return index


def test_a_damaged_live_generation_gives_way_to_the_previous_one_with_a_warning(tmp_path, corpus_dir, fake_embedder):
    from rag.errors import IndexRecoveredWarning

    folder = tmp_path / "idx"
    first = build(folder, corpus_dir, fake_embedder).generation
    second = add_and_save(folder, corpus_dir, fake_embedder, "lakes.txt", "Lake Baikal is the deepest lake.").generation
    vectors = folder / second / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    with pytest.warns(IndexRecoveredWarning, match=rf"live generation {second}.*checksum.*earlier generation {first}"):
        recovered = FolderStore.open(folder)
    assert recovered.generation == first
    assert len(recovered.documents()) == 2 and all("Baikal" not in c.text for c in recovered.chunks())
    # The next save from the recovered index replaces the damaged generation; the warning is gone.
    recovered.commit()
    assert second not in {p.name for p in folder.iterdir()}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(FolderStore.open(folder).documents()) == 2


def test_when_every_generation_is_damaged_the_error_says_how_to_rebuild(tmp_path, corpus_dir, fake_embedder):
    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder)
    add_and_save(folder, corpus_dir, fake_embedder, "lakes.txt", "Lake Baikal is the deepest lake.")
    for catalog in folder.glob("gen-*/catalog.sqlite"):
        catalog.write_text("", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=r"catalog\.sqlite is truncated or corrupted.*rag index --rebuild"):
        FolderStore.open(folder)


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
    assert len(FolderStore.open(folder).documents()) == 5


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
        open_for_writing(folder, embedder_id=fake_embedder.model_id, dimension=fake_embedder.dimension,
                       chunking=ChunkSettings(chunk_tokens=32, overlap_tokens=4))
    kept = open_for_writing(folder, embedder_id=fake_embedder.model_id, dimension=fake_embedder.dimension)
    assert kept.info.chunking == ChunkSettings(chunk_tokens=16, overlap_tokens=4) and kept.chunks()
    fresh = open_for_writing(folder, embedder_id=fake_embedder.model_id, dimension=fake_embedder.dimension,
                           chunking=ChunkSettings(chunk_tokens=32, overlap_tokens=4), rebuild=True)
    assert fresh.info.chunking.chunk_tokens == 32 and not fresh.chunks()


def test_the_assistant_keeps_an_index_s_own_chunk_settings(tmp_path, corpus_dir, fake_embedder):
    from rag.assistant import Assistant, Settings

    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder, ChunkSettings(chunk_tokens=16, overlap_tokens=4))
    (corpus_dir / "lakes.txt").write_text("Lake Baikal is the deepest lake in the world by far.", encoding="utf-8")
    assistant = Assistant(Settings(index_dir=folder), embedder=fake_embedder)
    assistant.index_paths([corpus_dir])
    assert FolderStore.open(folder).describe()["chunking"] == {"chunk_tokens": 16, "overlap_tokens": 4}
    asked = Assistant(Settings(index_dir=folder, chunking=ChunkSettings(chunk_tokens=64, overlap_tokens=8)), embedder=fake_embedder)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        asked.index_paths([corpus_dir])
    asked.index_paths([corpus_dir], rebuild=True)
    assert FolderStore.open(folder).describe()["chunking"] == {"chunk_tokens": 64, "overlap_tokens": 8}




def test_an_approximate_index_replaces_a_document_without_being_rebuilt(tmp_path, corpus_dir, fake_embedder, monkeypatch):
    import rag.stores.faiss_store as faiss_store

    monkeypatch.setattr(faiss_store, "ANN_THRESHOLD", 4)  # IVF from four chunks on
    builds = []
    original = faiss_store.build_ivf
    monkeypatch.setattr(faiss_store, "build_ivf", lambda *a, **k: builds.append(1) or original(*a, **k, lists=2))
    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder)
    store = FolderStore.open(folder)
    assert store._vector_index.kind == "ivf" and builds == [1]
    (corpus_dir / "rivers.txt").write_text("The Loire is the longest river in France, and it is slow.", encoding="utf-8")
    indexer(store, fake_embedder).upsert(load_paths([corpus_dir]).documents)
    store.commit()
    assert builds == [1]  # the replaced document's ids were deleted and the new ones added: no rebuild
    reloaded = FolderStore.open(folder)
    assert reloaded._vector_index.kind == "ivf" and reloaded._vector_index.count() == reloaded.chunk_count()
    query = fake_embedder.embed_queries(["The Loire is the longest river in France"])
    found = [reloaded.chunk(c).text for c, _ in reloaded.dense(query, 50)[0]]
    assert any("Loire" in text for text in found) and not any("Danube" in text for text in found)


def as_second_format(store: FolderStore) -> Path:
    """Rewrite `store`'s live generation as format 2 wrote it: the catalog as JSON lines, centroids by listed id,
    vector ids in JSON; checksums recomputed."""
    from dataclasses import asdict

    import numpy as np

    gen_dir = store.folder / store.generation
    docs = store.documents()
    lines = lambda rows: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)  # noqa: E731
    (gen_dir / "documents.jsonl").write_text(lines(asdict(d) for d in docs), encoding="utf-8")
    (gen_dir / "chunks.jsonl").write_text(lines(vars(c) for c in store.chunks()), encoding="utf-8")
    with_centroid = [d.doc_id for d in docs if store.centroid(d.doc_id) is not None]
    np.save(gen_dir / "centroids.npy", np.stack([store.centroid(i) for i in with_centroid]))
    (gen_dir / "centroid-ids.json").write_text(json.dumps(with_centroid), encoding="utf-8")
    (gen_dir / "catalog.sqlite").unlink()
    meta = json.loads((gen_dir / "vector-ids.json").read_text(encoding="utf-8"))
    meta["chunk_ids"] = [c.chunk_id for c in store.chunks()]
    (gen_dir / "vector-ids.json").write_text(json.dumps(meta), encoding="utf-8")
    for name in ("vector-ids.npy", "vector-chunk-ids.npy"):
        (gen_dir / name).unlink(missing_ok=True)
    rewrite_manifest(gen_dir, 2)
    return gen_dir


def rewrite_manifest(gen_dir: Path, version: int) -> None:
    from rag.hashing import file_sha256

    manifest = json.loads((gen_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = version
    manifest["files"] = {str(p.relative_to(gen_dir)): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
                         for p in gen_dir.rglob("*") if p.is_file() and p.name not in ("manifest.json", ".rag-generation")}
    (gen_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_an_index_of_the_second_format_is_read_and_upgraded_on_the_next_commit(tmp_path, corpus_dir, fake_embedder):
    folder = tmp_path / "idx"
    built = build(folder, corpus_dir, fake_embedder)
    as_second_format(built)
    old = FolderStore.open(folder)
    assert old.chunks() == built.chunks() and old.documents() == built.documents()
    query = fake_embedder.embed_queries(["Danube flows through ten countries"])
    assert old.dense(query, 3) == built.dense(query, 3)
    assert old.dense_documents(query, 2) == built.dense_documents(query, 2)
    old.commit()
    upgraded = FolderStore.open(folder)
    assert upgraded.describe()["format_version"] == 3 and upgraded.chunks() == built.chunks()
    assert (folder / upgraded.generation / "catalog.sqlite").is_file()


def test_an_index_of_the_first_format_is_read_and_upgraded_on_the_next_commit(tmp_path, corpus_dir, fake_embedder):
    import faiss

    folder = tmp_path / "idx"
    store = build(folder, corpus_dir, fake_embedder)
    gen_dir = as_second_format(store)
    chunks = store.chunks()
    flat = faiss.IndexFlatIP(fake_embedder.dimension)  # format 1: row i of vectors.faiss is line i of chunks.jsonl
    flat.add(fake_embedder.embed_documents([c.text for c in chunks]))
    for name in ("centroids.npy", "centroid-ids.json", "vector-ids.json"):
        (gen_dir / name).unlink()
    faiss.write_index(flat, str(gen_dir / "vectors.faiss"))
    rewrite_manifest(gen_dir, 1)
    old = FolderStore.open(folder)
    query = fake_embedder.embed_queries(["Danube flows through ten countries"])
    assert "Danube" in old.chunk(old.dense(query, 1)[0][0][0]).text
    assert old.dense_documents(query, 1)[0]  # centroids computed from the old vectors
    old.commit()
    assert FolderStore.open(folder).describe()["format_version"] == 3


def test_an_opened_index_reads_its_catalog_by_key_and_holds_only_what_changed(tmp_path, corpus_dir, fake_embedder):
    from rag.stores.sqlite_catalog import SqliteCatalog

    folder = tmp_path / "idx"
    built = build(folder, corpus_dir, fake_embedder)
    store = FolderStore.open(folder)
    assert isinstance(store._catalog, SqliteCatalog) and not store._catalog.changes
    everything = {c.chunk_id: c for c in built.chunks()}
    for chunk_id, chunk in everything.items():  # text sliced from the document inside the query, by characters
        assert store.chunk(chunk_id) == chunk
    assert store.chunk("no-such-chunk") is None
    removed = store.sources()[0]
    gone = store.document_at(removed)
    store.remove(removed)
    assert store.document_at(removed) is None and removed not in store.sources()
    assert all(store.chunk(c.chunk_id) is None for c in built.chunks(gone.doc_id))
    assert store.chunk_count() == len(everything) - len(built.chunks(gone.doc_id))
    assert gone.doc_id not in store.chunk_counts()
    query = fake_embedder.embed_queries([gone.text[:80]])
    assert gone.doc_id not in {d for d, _ in store.dense_documents(query, 10)[0]}
    indexer(store, fake_embedder).upsert(load_paths([corpus_dir]).documents)  # put back: held in memory
    assert store.document_at(removed) == gone and store.chunks(gone.doc_id) == built.chunks(gone.doc_id)
    assert store.dense_documents(query, 1)[0][0][0] == gone.doc_id
    store.commit()
    assert FolderStore.open(folder).chunks() == sorted_like(built.chunks(), FolderStore.open(folder).chunks())


def sorted_like(expected: list, actual: list) -> list:
    """`expected` in the order of `actual` (a document put back comes last)."""
    order = {c.chunk_id: n for n, c in enumerate(actual)}
    return sorted(expected, key=lambda c: order.get(c.chunk_id, -1))


def test_a_document_with_wide_characters_is_sliced_by_characters(tmp_path, fake_embedder):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "wide.txt").write_text("Ünïcödé 😀 emoji and ñ " * 40 + "Zürich 🏔 lies by a lake.", encoding="utf-8")
    built = build(tmp_path / "idx", corpus, fake_embedder)
    store = FolderStore.open(tmp_path / "idx")
    assert len(built.chunks()) > 1
    for chunk in built.chunks():
        assert store.chunk(chunk.chunk_id) == chunk


def on_disk_from_four_chunks(monkeypatch, delta_share: float) -> None:
    """Tiny thresholds and codes, so the test corpus is stored like a corpus of millions."""
    import rag.stores.faiss_ondisk as faiss_ondisk
    import rag.stores.faiss_store as faiss_store

    for name, value in {"ANN_THRESHOLD": 2, "ONDISK_THRESHOLD": 4, "DELTA_SHARE": delta_share}.items():
        monkeypatch.setattr(faiss_store, name, value)
    for name, value in {"PQ_BYTES": 8, "PQ_BITS": 2}.items():
        monkeypatch.setattr(faiss_ondisk, name, value)
    for module in (faiss_store, faiss_ondisk):
        monkeypatch.setattr(module, "list_count", lambda count: 2)


def test_a_store_past_the_on_disk_threshold_searches_exactly_and_keeps_changes_in_a_delta(tmp_path, corpus_dir,
                                                                                         fake_embedder, monkeypatch):
    on_disk_from_four_chunks(monkeypatch, delta_share=1.0)
    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder)
    store = FolderStore.open(folder)
    assert store._vector_index.kind == "ivfpq-ondisk"
    first = store.generation
    query = fake_embedder.embed_queries(["The Danube flows through ten countries"])
    chunk_id, score = store.dense(query, 1)[0][0]
    assert "Danube" in store.chunk(chunk_id).text
    text = store.chunk(chunk_id).text  # re-scored with the exact vector, not its 2-bit code
    assert score == pytest.approx(float(fake_embedder.embed_documents([text])[0] @ query[0]), abs=1e-5)
    (corpus_dir / "lakes.txt").write_text("Lake Baikal is the deepest lake in the world.", encoding="utf-8")
    indexer(store, fake_embedder).remove("rivers.txt")
    (corpus_dir / "rivers.txt").unlink()
    indexer(store, fake_embedder).upsert(load_paths([corpus_dir]).documents)
    store.commit()
    # The base is shared with the previous generation (hard links), the change lives in the delta and tombstones.
    base = tmp_path / "idx" / store.generation / "vectors.ivfdata"
    assert base.stat().st_nlink == 2 and (tmp_path / "idx" / first / "vectors.ivfdata").samefile(base)
    reloaded = FolderStore.open(folder)
    found = [reloaded.chunk(c).text for c, _ in reloaded.dense(query, 20)[0]]
    assert not any("Danube" in text for text in found)
    lake = reloaded.dense(fake_embedder.embed_queries(["Lake Baikal is the deepest lake in the world."]), 1)[0]
    assert "Baikal" in reloaded.chunk(lake[0][0]).text
    assert reloaded._vector_index.count() == reloaded.chunk_count()


def test_a_commit_tokenizes_only_the_new_texts_even_in_a_new_process(tmp_path, corpus_dir, fake_embedder, monkeypatch):
    import rag.lexical

    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder)
    store = FolderStore.open(folder)  # as a fresh `rag index` run would: the tokens come from the generation's files
    tokenized: list[str] = []
    real = rag.lexical.tokenize
    monkeypatch.setattr(rag.lexical, "tokenize", lambda texts: tokenized.extend(texts) or real(texts))
    (corpus_dir / "lakes.txt").write_text("Lake Baikal is the deepest lake in the world.", encoding="utf-8")
    indexer(store, fake_embedder).upsert(load_paths([corpus_dir]).documents)
    store.commit()
    lake = next(d for d in store.documents() if "Baikal" in d.text)
    assert sorted(tokenized) == sorted([lake.text] + [c.text for c in store.chunks(lake.doc_id)])
    fresh = FolderStore.open(folder)
    assert fresh.lexical(["deepest lake"], 1)[0][0][0] in {c.chunk_id for c in fresh.chunks(lake.doc_id)}
    assert fresh.lexical(["Danube"], 1)[0]  # the reused tokens still find the old texts


def test_an_on_disk_base_outlives_the_generation_that_built_it(tmp_path, corpus_dir, fake_embedder, monkeypatch):
    on_disk_from_four_chunks(monkeypatch, delta_share=100.0)
    folder = tmp_path / "idx"
    build(folder, corpus_dir, fake_embedder)
    store = FolderStore.open(folder)
    for number in range(4):  # the generation that built the base is deleted after two newer ones
        (corpus_dir / f"extra{number}.txt").write_text(f"Extra document number {number}.", encoding="utf-8")
        indexer(store, fake_embedder).upsert(load_paths([corpus_dir]).documents)
        store.commit()
    reloaded = FolderStore.open(folder)
    assert reloaded._vector_index.kind == "ivfpq-ondisk" and len(reloaded.documents()) == 6
    query = fake_embedder.embed_queries(["The Danube flows through ten countries"])
    assert "Danube" in reloaded.chunk(reloaded.dense(query, 1)[0][0][0]).text


def test_many_threads_open_one_index_at_once(tmp_path, corpus_dir, fake_embedder):
    """numpy parses .npy headers with ast, which CPython 3.11 does not allow from two threads at once: opening is
    serialized where headers are parsed (rag.arrays), so a server's threads can reopen an index together."""
    import threading

    built = build(tmp_path / "idx", corpus_dir, fake_embedder)
    failures, barrier = [], threading.Barrier(8)

    def open_many() -> None:
        barrier.wait()
        for _ in range(15):
            try:
                store = FolderStore.open(tmp_path / "idx")
                assert store.chunk_count() == len(built.chunks()) and store.lexical(["Danube"], 1)[0]
            except BaseException as exc:  # reported below
                failures.append(exc)

    threads = [threading.Thread(target=open_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:3]


def test_document_search_after_reopening_skips_documents_without_a_centroid(tmp_path, fake_embedder):
    """centroids.npy has a row for every document (zeros for one without chunks): each id must meet its own row."""
    from rag.stores.base import IndexInfo
    from rag.types import Chunk, Document

    store = FolderStore.create(tmp_path / "idx", IndexInfo(fake_embedder.model_id, fake_embedder.dimension))
    texts = {"a.txt": "The Danube flows through ten countries.", "b.txt": "", "c.txt": "Lake Baikal is the deepest lake."}
    for number, (name, text) in enumerate(texts.items()):
        document = Document(f"{number:016x}", f"/docs/{name}", name, text, {})
        chunks = [Chunk(f"{document.doc_id}-0", document.doc_id, 0, len(text), text)] if text else []
        vectors = fake_embedder.embed_documents([c.text for c in chunks]) if chunks else \
            np.zeros((0, fake_embedder.dimension), dtype=np.float32)
        store.write(document, chunks, vectors)
    store.commit()
    query = fake_embedder.embed_queries(["Lake Baikal is the deepest lake."])
    expected = store.dense_documents(query, 3)
    reopened = FolderStore.open(tmp_path / "idx").dense_documents(query, 3)
    assert [d for d, _ in reopened[0]] == [d for d, _ in expected[0]] == [f"{2:016x}", f"{0:016x}"]
    assert reopened[0][0][1] == pytest.approx(expected[0][0][1], abs=1e-5)
