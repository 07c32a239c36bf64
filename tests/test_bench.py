"""`rag bench`: the statistics and tables it prints, the vector index types it compares, and (integration) a run."""

import json

import numpy as np
import pytest

from tests.conftest import FakeReranker

from rag import bench, cli


def test_stats_are_interpolated_percentiles():
    assert bench.stats([1, 2, 3, 4, 100]) == {"p50": 3, "p95": 80.8, "n": 5}
    assert bench.stats([]) == {"p50": 0.0, "p95": 0.0, "n": 0}


def test_faiss_benchmark_reports_recall_against_exact_search(tmp_path, capsys):
    assert cli.main(["bench", "faiss", "--sizes", "2000", "--queries", "10", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "faiss.json").read_text())
    rows = {(r["index"], tuple(r["params"].items())): r for r in result["rows"]}
    assert rows[("flat", ())]["recall@10"] == 1.0
    assert all(0 <= r["recall@100"] <= 1 for r in result["rows"])
    assert {r["index"] for r in result["rows"]} == {"flat", "hnsw", "ivf"}
    assert "| 2,000 | hnsw | efSearch=256 |" in capsys.readouterr().out


def test_a_missing_benchmark_corpus_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["bench", "--corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 1
    assert "--corpus" in capsys.readouterr().err


def test_a_document_folder_without_questions_says_what_is_missing(tmp_path, corpus_dir, capsys):
    assert cli.main(["bench", "--corpus", str(corpus_dir), "--out", str(tmp_path)]) == 1
    assert "--questions" in capsys.readouterr().err


@pytest.mark.integration
def test_pipeline_benchmark_runs_on_the_seed_corpus_with_the_naive_baseline(tmp_path):
    from rag.paths import SEED_CORPUS

    code = cli.main(["bench", "--corpus", str(SEED_CORPUS), "--questions", str(SEED_CORPUS / "questions.jsonl"),
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
