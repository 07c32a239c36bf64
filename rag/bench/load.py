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
               index: Path | None = None, uploads_every: float = 0, log: Callable[[str], None] = print) -> dict:
    """`clients` threads, each its own gradio_client, asking in a loop for `seconds` against a server on loopback;
    with `uploads_every`, one more client adds a small document through the upload endpoint that often."""
    import tempfile
    import threading

    import psutil
    from gradio_client import Client

    scratch = Path(tempfile.mkdtemp(prefix="rag-bench-load-"))
    if index is None:  # the uploads must not land in the user's own seed index
        index = scratch / "index"
        if uploads_every:
            from rag.paths import SEED_CORPUS

            subprocess.run([*_rag(), "index", str(SEED_CORPUS), "--index", str(index)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            index = None
    port = _free_port()
    command = [*_rag(), "serve", "--host", "127.0.0.1", "--port", str(port), "--reader", reader]
    if index is not None:
        command += ["--index", str(index)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    log(f"starting the server on 127.0.0.1:{port}")
    # The server's messages go to a file: a pipe nobody reads would block a chatty server once it filled up.
    server_log = open(scratch / "server.log", "wb")
    server = subprocess.Popen(command, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url, server)
        process = psutil.Process(server.pid)
        Client(url, verbose=False).predict(questions[0], 5, reader, api_name="/ask")  # models loaded, as in use
        rss = [process.memory_info().rss / 2**20]
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def client_loop(number: int) -> None:
            try:
                client = Client(url, verbose=False)
            except Exception as exc:  # counted as a failed request; the run goes on
                with lock:
                    failures.append(f"client {number} could not connect: {exc!r}")
                return
            turn = number
            while time.monotonic() < stop_at:
                question = questions[turn % len(questions)]
                turn += clients
                started = time.perf_counter()
                try:
                    data = client.predict(question, 5, reader, api_name="/ask")
                    ok = isinstance(data, dict) and data.get("question")
                    error = "" if ok else f"unexpected reply {str(data)[:200]}"
                except Exception as exc:  # every failure is counted and reported, none stops the others
                    error = repr(exc)[:300]
                with lock:
                    if error:
                        failures.append(error)
                    else:
                        latencies.append((time.perf_counter() - started) * 1000)

        uploads: list[float] = []

        def upload_loop() -> None:
            from gradio_client import handle_file

            client = Client(url, verbose=False)
            turn = 0
            while time.monotonic() + uploads_every < stop_at:
                time.sleep(uploads_every)
                turn += 1
                path = scratch / f"note-{turn}.txt"
                path.write_text(f"Field note {turn}. The survey boat counted {turn * 7} herons near pier {turn}.\n")
                started = time.perf_counter()
                try:
                    status = client.predict([handle_file(str(path))], api_name="/upload")[0]
                    error = "" if "indexed" in status else f"upload said: {status[:200]}"
                except Exception as exc:  # counted and reported like a failed question
                    error = f"upload: {exc!r}"[:300]
                with lock:
                    if error:
                        failures.append(error)
                    else:
                        uploads.append((time.perf_counter() - started) * 1000)

        log(f"{clients} clients for {seconds:.0f} s" + (f", an upload every {uploads_every:.0f} s" if uploads_every else ""))
        threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(clients)]
        if uploads_every:
            threads.append(threading.Thread(target=upload_loop, daemon=True))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            rss.append(process.memory_info().rss / 2**20)
            if time.monotonic() - started > seconds + 300:
                failures.append("clients still waiting 300 s after the end: stopped")
                break
        elapsed = time.monotonic() - started
        return {
            "benchmark": "load",
            "machine": machine(),
            "clients": clients,
            "seconds": round(elapsed, 1),
            "reader": reader,
            "requests": len(latencies) + len(uploads) + len(failures),
            "uploads": len(uploads),
            "upload_ms": stats(uploads) if uploads else None,
            "failed": len(failures),
            "failures": failures[:20],
            "throughput_per_s": round(len(latencies) / elapsed, 2),
            "latency_ms": stats(latencies),
            "server_rss_mib": {"start": round(rss[0], 1), "end": round(rss[-1], 1), "max": round(max(rss), 1)},
            "server_rss_mib_each_second": [round(value, 1) for value in rss],
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


def load_markdown(r: dict) -> str:
    m, lat, mem = r["machine"], r["latency_ms"], r["server_rss_mib"]
    return "\n".join([
        "# rag bench: chat server under load",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores. {r['clients']} concurrent API clients (gradio_client, /ask) on "
        f"loopback for {r['seconds']} s, {r['reader']} reader, the server's queue answering 2 questions at once"
        + (f"; {r['uploads']} uploads during the run." if r.get("uploads") else "."),
        "",
        "| requests | failed | answers/s | latency p50 / p95 (ms) | server memory start / end / max (MiB) |",
        "|---|---|---|---|---|",
        f"| {r['requests']} | {r['failed']} | {r['throughput_per_s']} | {lat['p50']} / {lat['p95']} | "
        f"{mem['start']} / {mem['end']} / {mem['max']} |",
        "",
    ])
