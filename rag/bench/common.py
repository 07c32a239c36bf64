"""What every benchmark shares: the machine's description, percentiles, a measured child process, the
resident memory of this process, and writing results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence


from rag.errors import RagError


REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "scifact"
STAGES = ("embed_ms", "dense_ms", "lexical_ms", "fusion_ms", "rerank_ms", "reader_ms", "total_ms")


def machine() -> dict:
    import psutil

    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def stats(values: Sequence[float]) -> dict:
    from rag.evaluation.metrics import percentile

    return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2), "n": len(values)}


def _run_measured(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one child process, which must succeed."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)  # wait4: the rusage of this child alone
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        child.returncode = code
        if code != 0:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()[-500:]
            raise RagError(f"benchmark step failed: {' '.join(command)} exited {code}: {message}",
                           hint="run that command by hand to see the whole error")
    return wall, usage.ru_maxrss / 1024


def _rag() -> list[str]:
    return [sys.executable, "-m", "rag.cli"]


# ----- pipeline ------------------------------------------------------------------------------------------------


def write(result: dict, markdown: str, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(markdown, encoding="utf-8")



def _rss_mib(kind: str = "VmRSS") -> float:
    """Resident memory from /proc/self/status: VmRSS (all), RssAnon (the process's own), RssFile (mapped files)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(kind + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0
