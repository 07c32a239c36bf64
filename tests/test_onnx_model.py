"""The embedder on ONNX Runtime: model folders it accepts, pooling, and (integration) agreement with torch."""

import json

import numpy as np
import pytest

from rag.errors import ModelNotFoundError
from rag.onnx_model import _pool, read_spec


def _st_folder(tmp_path, modules, pooling=None, max_seq_length=128):
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8, "max_position_embeddings": 512}))
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling or {"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True}))
    return tmp_path


TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
POOLING = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
NORMALIZE = {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}


def test_a_transformer_pooling_normalize_model_is_read(tmp_path):
    spec = read_spec(_st_folder(tmp_path, [TRANSFORMER, POOLING, NORMALIZE]))
    assert (spec.pooling, spec.max_seq_length, spec.dimension) == ("mean", 128, 8)


def test_a_model_with_other_modules_is_refused_with_the_way_out(tmp_path):
    dense = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    with pytest.raises(ModelNotFoundError, match="Dense") as caught:
        read_spec(_st_folder(tmp_path, [TRANSFORMER, POOLING, dense]))
    assert "--embedder-backend torch" in caught.value.hint


def test_a_folder_that_is_not_a_sentence_transformers_model_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not a sentence-transformers model"):
        read_spec(tmp_path)


def test_pooling_ignores_padding():
    hidden = np.array([[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert _pool(hidden, mask, "mean").tolist() == [[2.0, 1.0]]
    assert _pool(hidden, mask, "max").tolist() == [[3.0, 2.0]]
    assert _pool(hidden, mask, "cls").tolist() == [[1.0, 0.0]]


@pytest.mark.integration
@pytest.mark.parametrize("backend, least_cosine", [("onnx", 0.9999), ("onnx-int8", 0.97)])
def test_onnx_backends_agree_with_sentence_transformers(backend, least_cosine):
    from rag.embedding import Embedder

    texts = ["Mount Etna erupted in 1669.", "short", "A much longer passage about rivers, " * 20, "Ünïcödé — 2018?"]
    reference = Embedder(backend="torch")
    onnx = Embedder(backend=backend)
    cosines = (reference.embed_documents(texts) * onnx.embed_documents(texts)).sum(axis=1)
    assert cosines.min() > least_cosine
    assert [onnx.count_tokens(t) for t in texts] == [reference.count_tokens(t) for t in texts]
    assert (onnx.dimension, onnx.max_tokens) == (reference.dimension, reference.max_tokens)
    # Texts over the window are truncated as sentence-transformers does, not refused.
    assert onnx.embed_queries(["word " * 2000]).shape == (1, 384)


@pytest.mark.integration
def test_the_export_is_made_once_and_reused(tmp_path):
    from rag.models import resolve_embedder
    from rag.onnx_model import exported_model

    folder = resolve_embedder("all-MiniLM-L6-v2")
    first = exported_model(folder, tmp_path, quantized=True)
    stamp = (first / "model.onnx").stat().st_mtime_ns
    assert exported_model(folder, tmp_path, quantized=True) == first
    assert (first / "model.onnx").stat().st_mtime_ns == stamp
    assert not list(tmp_path.glob(".export-*")), "no half-made export is left behind"


@pytest.mark.integration
def test_answering_from_an_int8_index_never_imports_torch(tmp_path, corpus_dir):
    import subprocess
    import sys

    from rag.assistant import Assistant, Settings

    Assistant(Settings(index_dir=tmp_path / "idx")).index_paths([corpus_dir])  # exports the model if needed
    script = (
        "import sys; from rag import cli; "
        f"code = cli.main(['ask', 'Which volcano erupted in 1669?', '--index', {str(tmp_path / 'idx')!r}]); "
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', code)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "erupted violently in 1669" in done.stdout and "volcanoes.md" in done.stdout
    assert done.stdout.strip().endswith("NO-TORCH 0"), done.stdout + done.stderr


@pytest.mark.integration
def test_a_damaged_export_is_made_again(tmp_path, monkeypatch):
    from rag.embedding import Embedder

    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path))
    first = Embedder(backend="onnx-int8")
    expected = first.embed_queries(["lava lake"])
    (exported,) = [p for p in (tmp_path / "onnx").iterdir() if p.is_dir()]
    (exported / "model.onnx").write_bytes(b"not a model")
    again = Embedder(backend="onnx-int8")
    assert np.allclose(again.embed_queries(["lava lake"]), expected, atol=1e-5)
