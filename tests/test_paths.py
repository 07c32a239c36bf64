"""Where things live, and the layering that keeps the lower stages from reaching back up to the assistant."""

import subprocess
import sys
from pathlib import Path

import pytest

from rag.paths import SEED_CORPUS, cache_dir, default_index_dir


def test_the_cache_follows_rag_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and default_index_dir() == tmp_path / "c" / "seed-index"
    assert (SEED_CORPUS / "questions.jsonl").is_file()


@pytest.mark.parametrize("module", ["rag.embedding", "rag.rerank", "rag.llm", "rag.readers.llm", "rag.readers.extractive",
                                    "rag.retrieval", "rag.loaders", "rag.chunking", "rag.indexer",
                                    "rag.stores", "rag.stores.folder", "rag.stores.faiss_store", "rag.stores.milvus_store"])
def test_lower_stages_never_import_the_assistant(module):
    probe = f"import sys, {module}; print(sorted(m for m in sys.modules if m in ('rag.assistant', 'ui', 'gradio')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.stdout.strip() == "[]"
