"""`rag bench`: the statistics and tables it prints, the vector index types it compares, and (integration) a run."""

import json

import pytest

from rag import bench, cli


def test_stats_are_interpolated_percentiles():
    assert bench.stats([1, 2, 3, 4, 100]) == {"p50": 3, "p95": 80.8, "n": 5}
    assert bench.stats([]) == {"p50": 0.0, "p95": 0.0, "n": 0}


def test_scale_benchmark_reports_recall_memory_and_milvus(tmp_path, monkeypatch):
    from rag.stores import faiss_ondisk, faiss_store

    monkeypatch.setattr(faiss_ondisk, "PQ_BYTES", 8)  # 32-d vectors: 8 sub-quantizers of 4 dimensions
    monkeypatch.setattr(faiss_store, "ANN_THRESHOLD", 1000)  # the replacement is timed in an IVF index
    result = bench.bench_scale([3000], dim=32, queries=10, milvus=[f"milvus:{tmp_path / 'scale.db'}"], work=tmp_path,
                               replace_chunks=3000, opened_chunks=200, log=lambda message: None)
    replace = result["replace"]
    assert replace["index"] == "ivf" and replace["replaced_chunk_found"] and replace["total_s"] > 0
    stores = {r["store"] for r in result["rows"]}
    assert stores == {"faiss ivf-flat (memory)", "faiss ivf-pq (on disk)", "milvus (lite)"}
    assert all(0 < r["recall@100"] <= 1 for r in result["rows"])
    milvus = next(r for r in result["rows"] if r["store"] == "milvus (lite)")
    assert milvus["recall@100"] == 1.0  # exact search in Milvus finds what exact search in FAISS finds
    ondisk = next(r for r in result["rows"] if r["store"].endswith("(on disk)"))
    assert ondisk["resident_mib"] > 0 and ondisk["disk_mib"] > 0
    assert "| 3,000 | faiss ivf-flat (memory) |" in bench.scale_markdown(result)
    opened = result["opened"][0]  # a fresh process opening the Milvus store of 200 chunks, beside an empty one
    assert opened["chunks"] == 200 and opened["full_first"]["opened_mib"] > 0 and opened["empty_later"]["opened_mib"] > 0
    assert "MiB above an empty store" in bench.scale_markdown(result)


def test_a_missing_benchmark_corpus_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["bench", "pipeline", "--corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 1
    assert "--corpus" in capsys.readouterr().err


def test_a_document_folder_without_questions_says_what_is_missing(tmp_path, corpus_dir, capsys):
    assert cli.main(["bench", "pipeline", "--corpus", str(corpus_dir), "--out", str(tmp_path)]) == 1
    assert "--questions" in capsys.readouterr().err


@pytest.mark.integration
def test_pipeline_benchmark_runs_on_the_seed_corpus_with_the_naive_baseline(tmp_path):
    from rag.paths import SEED_CORPUS

    code = cli.main(["bench", "pipeline", "--corpus", str(SEED_CORPUS), "--questions", str(SEED_CORPUS / "questions.jsonl"),
                     "--docs", "0", "--queries", "4", "--out", str(tmp_path)])
    assert code == 0
    result = json.loads((tmp_path / "pipeline-onnx-int8.json").read_text())
    assert result["indexing"]["chunks"] > 0 and result["indexing"]["chunks_per_s"] > 0
    assert result["query_ms"]["total_ms"]["n"] == 4
    assert result["cold_start"]["seconds"]["n"] == 3 and result["cold_start"]["peak_rss_mib"] > 0
    assert result["naive"]["chunks"] == result["indexing"]["chunks"]
    assert result["ratios"]["indexing_throughput_ours_over_naive"] > 0
    assert "cold start of `rag ask`" in (tmp_path / "pipeline-onnx-int8.md").read_text()


@pytest.mark.integration
def test_load_benchmark_serves_concurrent_clients_without_failures(tmp_path):
    from rag.paths import SEED_CORPUS

    code = cli.main(["bench", "load", "--clients", "3", "--seconds", "8", "--uploads-every", "2", "--out", str(tmp_path),
                     "--questions", str(SEED_CORPUS / "questions.jsonl")])
    assert code == 0
    result = json.loads((tmp_path / "load-extractive.json").read_text())
    assert result["failed"] == 0, result["failures"]
    assert result["requests"] >= 3 and result["uploads"] >= 1
    assert result["server_rss_mib"]["max"] >= result["server_rss_mib"]["start"] > 0


@pytest.mark.integration
def test_watch_benchmark_times_saved_files_until_answerable(tmp_path):
    assert cli.main(["bench", "watch", "--queries", "2", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "watch.json").read_text())
    assert result["saves"] == 2 and len(result["all_seconds"]) == 2 and all(s > 0 for s in result["all_seconds"])
    assert "| 2 |" in (tmp_path / "watch.md").read_text()


@pytest.mark.integration
def test_files_benchmark_indexes_a_made_pdf_in_its_own_process(tmp_path):
    assert cli.main(["bench", "files", "--pages", "12", "--out", str(tmp_path)]) == 0
    row = json.loads((tmp_path / "files.json").read_text())["rows"][0]
    assert row["file"] == "book-12-pages.pdf" and row["pages"] == 12 and row["chunks"] >= 12
    assert row["peak_rss_mib"] > 50 and row["seconds"] > 0  # the child's own peak, not this process's
    assert "| book-12-pages.pdf | 12 |" in (tmp_path / "files.md").read_text()
