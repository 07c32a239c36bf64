"""`rag bench watch` and `rag bench files`: a watched folder's delay until a saved file is answerable, and the time
and peak memory of indexing big files."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence


from rag.errors import RagError
from rag.bench.common import _rag, _run_measured, machine, stats


def bench_watch(saves: int = 20, *, log: Callable[[str], None] = lambda m: None) -> dict:
    """Seconds from a file saved into a watched folder until a question about it retrieves it first, `saves` times
    one after another, with the real embedder (the watch loop of `rag serve --watch`, in this process)."""
    from rag.assistant import Assistant, Settings
    from rag.watch import watch_in_background

    with tempfile.TemporaryDirectory(prefix="rag-bench-watch-") as scratch:
        folder = Path(scratch) / "notes"
        folder.mkdir()
        (folder / "start.txt").write_text("The office kitchen is cleaned on Mondays.\n", encoding="utf-8")
        assistant = Assistant(Settings(index_dir=Path(scratch) / "index"))
        stop = watch_in_background(assistant, [folder], log=log)
        try:
            _wait_until(lambda: "start.txt" in " ".join(assistant.store.sources()), 120)
            seconds = []
            for n in range(saves):
                name = f"note-{n:02d}.txt"
                fact = f"Locker {700 + n} belongs to the courier named Ximena{n:02d} Okonkwo-Lindqvist."
                started = time.perf_counter()
                (folder / name).write_text(fact + "\n", encoding="utf-8")
                question = f"Who does locker {700 + n} belong to?"

                def found() -> bool:
                    hits = assistant.retriever().search(question, 1)
                    return bool(hits) and hits[0].chunk.text.startswith(f"Locker {700 + n}")

                _wait_until(found, 60)
                seconds.append(time.perf_counter() - started)
                log(f"save {n + 1}: answerable after {seconds[-1]:.2f} s")
        finally:
            stop.set()
    return {"machine": machine(), "saves": saves, "seconds": stats(seconds), "all_seconds": [round(s, 3) for s in seconds]}


def _wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout

    def holds() -> bool:
        try:
            return condition()
        except RagError:  # no index yet: the first sync has not committed
            return False

    while not holds():
        if time.monotonic() > deadline:
            raise RagError(f"nothing changed within {timeout:.0f} s", hint="check the folder is writable and watched")
        time.sleep(0.05)


def watch_markdown(r: dict) -> str:
    s = r["seconds"]
    return (f"| saves | p50 s | p95 s | max s |\n|---|---|---|---|\n"
            f"| {r['saves']} | {s['p50']:.2f} | {s['p95']:.2f} | {max(r['all_seconds']):.2f} |\n")


# ----- big files -----------------------------------------------------------------------------------------------

def make_book_pdf(path: Path, pages: int, text: str) -> Path:
    """A text PDF of `pages` A4 pages filled with `text`'s paragraphs over and over (fpdf2, a dev dependency)."""
    try:
        from fpdf import FPDF
    except ImportError as exc:
        raise RagError("making the test PDF needs fpdf2", hint="pip install fpdf2, or pass --corpus FILE...") from exc
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if len(p.split()) > 8]
    pdf = FPDF(format="A4")
    pdf.set_font("helvetica", size=10)
    pdf.set_auto_page_break(False)
    number = 0
    for page in range(pages):
        pdf.add_page()
        while pdf.get_y() < 250:
            paragraph = paragraphs[number % len(paragraphs)].encode("latin-1", "replace").decode("latin-1")
            pdf.multi_cell(0, 5, f"{page + 1}.{number % 97}. {paragraph[:900]}")
            pdf.ln(2)
            number += 1
    pdf.output(str(path))
    return path


def bench_files(files: Sequence[Path] = (), *, pages: int = 1000, log: Callable[[str], None] = lambda m: None) -> dict:
    """Index each big file on its own in a fresh `rag index` process: wall time, peak resident memory, pages and
    chunks. Without files, a `pages`-page text PDF is made from the seed article's paragraphs."""
    from rag.paths import SEED_CORPUS
    from rag.stores import open_store

    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-files-") as scratch:
        if not files:
            seed = sorted(SEED_CORPUS.glob("*.txt"))[0].read_text(encoding="utf-8")
            log(f"making a {pages}-page PDF")
            files = [make_book_pdf(Path(scratch) / f"book-{pages}-pages.pdf", pages, seed)]
        for number, file in enumerate(map(Path, files)):
            index = Path(scratch) / f"index-{number}"
            log(f"indexing {file.name}")
            wall, peak = _run_measured([*_rag(), "index", str(file), "--index", str(index)])
            store = open_store(str(index))
            document = next(iter(store.documents()))
            count = len(document.meta.get("pages") or ()) or 1
            rows.append({"file": file.name, "bytes": file.stat().st_size, "pages": count,
                         "chunks": store.chunk_count(), "seconds": round(wall, 1),
                         "seconds_per_page": round(wall / count, 3), "peak_rss_mib": round(peak, 1)})
            log(f"{file.name}: {count} pages, {rows[-1]['chunks']} chunks in {wall:.0f} s, peak RSS {peak:.0f} MiB")
    return {"machine": machine(), "rows": rows}


def files_markdown(r: dict) -> str:
    lines = ["| file | pages | chunks | seconds | s/page | peak RSS MiB |", "|---|---|---|---|---|---|"]
    lines += [f"| {x['file']} | {x['pages']} | {x['chunks']} | {x['seconds']:.0f} | {x['seconds_per_page']:.2f} | "
              f"{x['peak_rss_mib']:.0f} |" for x in r["rows"]]
    return "\n".join(lines) + "\n"
