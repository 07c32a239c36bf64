"""`rag bench load`: the chat server under concurrent API clients on loopback: failures, latency, memory."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence


from rag.errors import RagError
from rag.bench.common import _rag, machine, stats


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, server: subprocess.Popen, seconds: float = 180) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RagError(f"the server exited with code {server.returncode} before answering", hint="run `rag serve` by hand")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RagError(f"the server at {url} did not answer within {seconds:.0f} s", hint="run `rag serve` by hand")


def bench_load(questions: Sequence[str], *, clients: int = 20, seconds: float = 60, reader: str = "extractive",
               index: Path | None = None, uploads_every: float = 0, serve_options: Sequence[str] = (),
               log: Callable[[str], None] = print) -> dict:
    """`clients` threads, each its own gradio_client, asking in a loop for `seconds` against a server on loopback;
    with `uploads_every`, one more client adds a small document through the upload endpoint that often.
    `serve_options` are passed to `rag serve` (e.g. --rerank-depth 3)."""
    import shutil
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="rag-bench-load-"))
    if index is None and uploads_every:  # the uploads must not land in the user's own seed index
        from rag.paths import SEED_CORPUS

        index = scratch / "index"
        subprocess.run([*_rag(), "index", str(SEED_CORPUS), "--index", str(index)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = _free_port()
    command = [*_rag(), "serve", "--host", "127.0.0.1", "--port", str(port), "--reader", reader]
    if index is not None:
        command += ["--index", str(index)]
    command += list(serve_options)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    log(f"starting the server on 127.0.0.1:{port}")
    # The server's messages go to a file: a pipe nobody reads would block a chatty server once it filled up.
    server_log = open(scratch / "server.log", "wb")
    server = subprocess.Popen(command, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        _wait_for(f"http://127.0.0.1:{port}/", server)
        run = _LoadRun(f"http://127.0.0.1:{port}/", list(questions), reader, scratch, server.pid)
        log(f"{clients} clients for {seconds:.0f} s" + (f", an upload every {uploads_every:.0f} s" if uploads_every else ""))
        return {**run.measure(clients, seconds, uploads_every), "serve_options": list(serve_options)}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
        shutil.rmtree(scratch, ignore_errors=True)


class _LoadRun:
    """The clients of one load run against a started server, and what they measured."""

    def __init__(self, url: str, questions: list[str], reader: str, scratch: Path, pid: int):
        import threading

        import psutil
        from gradio_client import Client

        self.url, self.questions, self.reader, self.scratch = url, questions, reader, scratch
        self.process = psutil.Process(pid)
        Client(url, verbose=False).predict(questions[0], 5, reader, api_name="/ask")  # models loaded, as in use
        self.rss = [self.process.memory_info().rss / 2**20]
        self.latencies: list[float] = []
        self.uploads: list[float] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.stop_at = 0.0

    def _record(self, error: str, into: list[float], started: float) -> None:
        with self.lock:
            if error:
                self.failures.append(error)
            else:
                into.append((time.perf_counter() - started) * 1000)

    def ask_loop(self, number: int, clients: int) -> None:
        from gradio_client import Client

        try:
            client = Client(self.url, verbose=False)
        except Exception as exc:  # counted as a failed request; the run goes on
            self._record(f"client {number} could not connect: {exc!r}", [], 0.0)
            return
        turn = number
        while time.monotonic() < self.stop_at:
            question = self.questions[turn % len(self.questions)]
            turn += clients
            started = time.perf_counter()
            try:
                data = client.predict(question, 5, self.reader, api_name="/ask")
                error = "" if isinstance(data, dict) and data.get("question") else f"unexpected reply {str(data)[:200]}"
            except Exception as exc:  # every failure is counted and reported, none stops the others
                error = repr(exc)[:300]
            self._record(error, self.latencies, started)

    def upload_loop(self, every: float) -> None:
        from gradio_client import Client, handle_file

        client = Client(self.url, verbose=False)
        turn = 0
        while time.monotonic() + every < self.stop_at:
            time.sleep(every)
            turn += 1
            path = self.scratch / f"note-{turn}.txt"
            path.write_text(f"Field note {turn}. The survey boat counted {turn * 7} herons near pier {turn}.\n")
            started = time.perf_counter()
            try:
                status = client.predict([handle_file(str(path))], api_name="/upload")[0]
                error = "" if "indexed" in status else f"upload said: {status[:200]}"
            except Exception as exc:  # counted and reported like a failed question
                error = f"upload: {exc!r}"[:300]
            self._record(error, self.uploads, started)

    def measure(self, clients: int, seconds: float, uploads_every: float) -> dict:
        import threading

        self.stop_at = time.monotonic() + seconds
        threads = [threading.Thread(target=self.ask_loop, args=(n, clients), daemon=True) for n in range(clients)]
        if uploads_every:
            threads.append(threading.Thread(target=self.upload_loop, args=(uploads_every,), daemon=True))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            self.rss.append(self.process.memory_info().rss / 2**20)
            if time.monotonic() - started > seconds + 300:
                self.failures.append("clients still waiting 300 s after the end: stopped")
                break
        elapsed, rss = time.monotonic() - started, self.rss
        return {
            "benchmark": "load", "machine": machine(), "clients": clients, "seconds": round(elapsed, 1),
            "reader": self.reader, "requests": len(self.latencies) + len(self.uploads) + len(self.failures),
            "uploads": len(self.uploads), "upload_ms": stats(self.uploads) if self.uploads else None,
            "failed": len(self.failures), "failures": self.failures[:20],
            "throughput_per_s": round(len(self.latencies) / elapsed, 2), "latency_ms": stats(self.latencies),
            "server_rss_mib": {"start": round(rss[0], 1), "end": round(rss[-1], 1), "max": round(max(rss), 1)},
            "server_rss_mib_each_second": [round(value, 1) for value in rss],
        }


def load_markdown(r: dict) -> str:
    m, lat, mem = r["machine"], r["latency_ms"], r["server_rss_mib"]
    return "\n".join([
        "# rag bench: chat server under load",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores. {r['clients']} concurrent API clients (gradio_client, /ask) on "
        f"loopback for {r['seconds']} s, {r['reader']} reader, the server's queue answering 2 questions at once"
        + (f", served with {' '.join(r['serve_options'])}" if r.get("serve_options") else "")
        + (f"; {r['uploads']} uploads during the run." if r.get("uploads") else "."),
        "",
        "| requests | failed | answers/s | latency p50 / p95 (ms) | server memory start / end / max (MiB) |",
        "|---|---|---|---|---|",
        f"| {r['requests']} | {r['failed']} | {r['throughput_per_s']} | {lat['p50']} / {lat['p95']} | "
        f"{mem['start']} / {mem['end']} / {mem['max']} |",
        "",
    ])
