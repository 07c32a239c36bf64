"""The embedder on ONNX Runtime: exported once from the local sentence-transformers weights, int8 where asked.

Export needs torch and transformers (already installed for the packaged model) and happens on first use, into the
user cache, keyed by a hash of the weights; nothing is downloaded. Running needs only onnxruntime, tokenizers and
numpy, so a process that answers questions from an exported model never imports torch.

The sentence-transformers ONNX backend (optimum-onnx) would do the same export, but its only release pins
transformers < 4.58, which conflicts with the gradio and transformers this project runs on; the export here uses
the same tools it does (torch.onnx.export, onnxruntime.quantization).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import ModelNotFoundError

EXPORT_VERSION = 1  # bump when the export recipe changes, so stale exports are redone
_POOLING = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max"}


@dataclass(frozen=True)
class ModelSpec:
    """What the sentence-transformers folder says about running the model."""

    pooling: str
    max_seq_length: int
    dimension: int
    query_prefix: str = ""  # prepended to questions, for models trained with a query instruction


def read_spec(model_dir: Path) -> ModelSpec:
    """Transformer -> Pooling (-> Normalize) pipelines only; anything else needs the torch backend.

    Vectors are always L2-normalised by the embedder, so a Normalize module needs nothing more here."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(model_dir / m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling_config = json.loads((pooling_dir / "config.json").read_text())
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, KeyError, StopIteration, json.JSONDecodeError) as exc:
        raise ModelNotFoundError(
            f"{model_dir} is not a sentence-transformers model the ONNX backend can run ({exc})",
            hint="use --embedder-backend torch",
        ) from exc
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Normalize",) for k in kinds[2:]):
        raise ModelNotFoundError(
            f"{model_dir} has modules {kinds}; the ONNX backend runs Transformer -> Pooling (-> Normalize) only",
            hint="use --embedder-backend torch",
        )
    modes = [name for key, name in _POOLING.items() if pooling_config.get(key)]
    if len(modes) != 1:
        raise ModelNotFoundError(f"{model_dir} pools with {pooling_config}", hint="use --embedder-backend torch")
    max_len = int(config.get("max_position_embeddings", 512))
    st_config = model_dir / "sentence_bert_config.json"
    if st_config.exists():
        max_len = min(max_len, int(json.loads(st_config.read_text()).get("max_seq_length", max_len)))
    return ModelSpec(
        pooling=modes[0],
        max_seq_length=max_len,
        dimension=int(pooling_config.get("word_embedding_dimension", config.get("hidden_size"))),
    )


def _fingerprint(model_dir: Path, quantized: bool) -> str:
    digest = hashlib.sha256(f"v{EXPORT_VERSION} int8={quantized}".encode())
    for name in sorted(p.name for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin", ".json")):
        with open(model_dir / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def exported_model(model_dir: Path, cache: Path, *, quantized: bool) -> Path:
    """The folder holding model.onnx for `model_dir`, exporting it the first time (under a file lock)."""
    from filelock import FileLock

    target = cache / f"{model_dir.name}-{_fingerprint(model_dir, quantized)}"
    if (target / "model.onnx").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=600):
        if (target / "model.onnx").exists():  # another process finished the export while we waited
            return target
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=cache))
        try:
            _export(model_dir, work, quantized=quantized)
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _export(model_dir: Path, out: Path, *, quantized: bool) -> None:
    import inspect

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    # Eager attention traces to plain ops for any input; SDPA's fast paths branch on the example's mask.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters and getattr(model.config, "type_vocab_size", 0):
        names.append("token_type_ids")

    class Encoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    example = tuple(torch.ones((2, 8), dtype=torch.long) for _ in names)
    fp32 = out / ("model-fp32.onnx" if quantized else "model.onnx")
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python-side branches, moot with eager attention
        torch.onnx.export(
            Encoder(model), example, str(fp32), input_names=names, output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]},
            opset_version=17, dynamo=False,
        )
    if quantized:
        import logging

        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            root.setLevel(logging.ERROR)  # it logs advice meant for image models ("run pre-processing")
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Dynamic int8 with per-channel weights: the usual recipe for BERT-type encoders on CPU (AVX2/VNNI).
            quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            # onnxruntime.quantization configures the root logger as it runs; put it back so our output stays ours.
            root.handlers[:], root.level = handlers, level
        fp32.unlink()
    shutil.copy(model_dir / "tokenizer.json", out / "tokenizer.json")


def load_encoder(model_dir: Path, cache: Path, *, quantized: bool, batch_size: int) -> "OnnxEncoder":
    """The encoder for `model_dir`, exported into `cache` if needed. A damaged export (disk trouble, a hand edit) is
    derived data, so it is made again once before giving up."""
    spec = read_spec(model_dir)
    folder = exported_model(model_dir, cache, quantized=quantized)
    try:
        return OnnxEncoder(folder, spec, batch_size=batch_size)
    except Exception:  # onnxruntime and tokenizers raise their own types for an unreadable file
        shutil.rmtree(folder, ignore_errors=True)
        folder = exported_model(model_dir, cache, quantized=quantized)
        try:
            return OnnxEncoder(folder, spec, batch_size=batch_size)
        except Exception as exc:
            raise ModelNotFoundError(
                f"the ONNX export of {model_dir.name} in {folder} cannot be loaded ({exc})",
                hint="use --embedder-backend torch, and report this",
            ) from exc


class OnnxEncoder:
    """Tokenize, run the graph, pool, normalise: what SentenceTransformer.encode does, on ONNX Runtime."""

    def __init__(self, folder: Path, spec: ModelSpec, *, batch_size: int = 8, threads: int | None = None):
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.inputs = [node.name for node in self.session.get_inputs()]
        self.counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(spec.max_seq_length)
        self.tokenizer.enable_padding()
        self.spec = spec
        self.dimension = spec.dimension
        self.max_seq_length = spec.max_seq_length
        self.query_prefix = spec.query_prefix
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one tokenizer, many server threads: encode one batch at a time

    def count_tokens(self, text: str) -> int:
        return len(self.counter.encode(text, add_special_tokens=False).ids)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        # Shortest first, so each batch pads to a similar length (as sentence-transformers does).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.spec.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            with self._lock:
                encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {name: feeds[name] for name in self.inputs})[0]
            out[rows] = _pool(hidden, mask, self.spec.pooling)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[..., None].astype(np.float32)
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(axis=1)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
