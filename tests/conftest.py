"""Shared fixtures: a hash-seeded fake embedder so unit tests need no model, and helpers for temp corpora."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Never the user's real cache, not even for fixtures wider than one test. The embedder's ONNX export (derived from
# the packaged weights only) is made once per session and shared by every test's cache.
_TEST_ROOT = Path(tempfile.mkdtemp(prefix="rag-tests-"))
_EXPORTS = _TEST_ROOT / "onnx-exports"
_EXPORTS.mkdir()
(_TEST_ROOT / "session-cache").mkdir()
(_TEST_ROOT / "session-cache" / "onnx").symlink_to(_EXPORTS, target_is_directory=True)
os.environ["RAG_CACHE_DIR"] = str(_TEST_ROOT / "session-cache")

_WORD = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Bag of hashed words: texts sharing words get similar vectors. One 'token' per word or symbol."""

    model_id = "fake/hash-embedder"

    def __init__(self, dimension: int = 64, max_tokens: int = 254):
        self._dimension = dimension
        self._max_tokens = max_tokens
        self.embedded_texts = 0

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
            vector += np.random.default_rng(seed).standard_normal(self._dimension).astype(np.float32)
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def embed_documents(self, texts: Sequence[str], **_) -> np.ndarray:
        self.embedded_texts += len(texts)
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self._dimension)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self._dimension)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


class FakeReranker:
    """A cross-encoder stand-in: the share of the question's content words a passage holds, on a logit-like scale
    (-5 for none, +5 for all), so the calibrated confidence sees values in the real model's range."""

    def __init__(self):
        self.scored = 0

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        from rag.text import content_terms

        self.scored += len(passages)
        wanted = set(content_terms(question))
        shares = [len(wanted & set(content_terms(p))) / len(wanted) if wanted else 0.0 for p in passages]
        return np.array([10.0 * share - 5.0 for share in shares], dtype=np.float32)


@pytest.fixture
def fake_reranker() -> FakeReranker:
    return FakeReranker()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets a cache of its own (indexes, joined models), sharing the session's ONNX export."""
    cache = tmp_path_factory.mktemp("cache")
    (cache / "onnx").symlink_to(_EXPORTS, target_is_directory=True)
    monkeypatch.setenv("RAG_CACHE_DIR", str(cache))


CORPUS = {
    "volcanoes.md": (
        "# Volcanoes\n\nMount Etna is an active volcano on the east coast of Sicily. "
        "It erupted violently in 1669, destroying the village of Nicolosi.\n\n"
        "Kilauea is a shield volcano in Hawaii. Its lava lake was drained in 2018."
    ),
    "rivers.txt": (
        "The Danube flows through ten countries and empties into the Black Sea.\n"
        "The Rhine rises in the Swiss Alps and reaches the North Sea in the Netherlands."
    ),
}


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def assistant(tmp_path, corpus_dir, fake_embedder, fake_reranker):
    from rag.assistant import Assistant, Settings

    instance = Assistant(Settings(index_dir=tmp_path / "index"), embedder=fake_embedder, reranker=fake_reranker)
    instance.index_paths([corpus_dir])
    return instance


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed_server(folder: Path):
    """(running server on loopback, its assistant) over a fresh index of the seed corpus in `folder`."""
    from rag.assistant import Assistant, Settings
    from rag.paths import SEED_CORPUS
    from ui.server import serve

    assistant = Assistant(Settings(index_dir=folder / "index"))
    assistant.index_paths([SEED_CORPUS])
    return serve(assistant, port=free_port(), block=False), assistant


def pytest_sessionfinish(session, exitstatus):
    import shutil

    shutil.rmtree(_TEST_ROOT, ignore_errors=True)
