"""HTML for the chat window. Every piece of document text and every file name goes through `escape`:
a document is shown, never run."""

from __future__ import annotations

import html
import os
import re
from functools import lru_cache

from rag.types import Answer, Document, Hit

CONTEXT_CHARS = 280
VIEWER_MAX_CHARS = 120_000


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def display_name(document: Document) -> str:
    return document.name


def where(document: Document, start: int) -> str:
    place = document.place_at(start)
    return display_name(document) + (f", {place}" if place else "")


def heading(document: Document, start: int, detail: str = "") -> str:
    """A source's heading: its title, then its file name (and page) and `detail` on a second line."""
    title = " ".join(document.title.split())
    second = escape(where(document, start)) + escape(detail)
    if not title or title == display_name(document):
        return f'<span class="rag-name">{second}</span>'
    return f'<span class="rag-name">{escape(title)}</span><div class="rag-file">{second}</div>'


def highlighted(text: str, start: int, end: int, lo: int, hi: int, answer: tuple[int, int] | None = None) -> str:
    """text[lo:hi] escaped, with text[start:end] inside <mark> and the short answer inside it in bold."""
    lead = "…" if lo > 0 else ""
    tail = "…" if hi < len(text) else ""
    if answer and start <= answer[0] < answer[1] <= end and answer != (start, end):
        inner = (
            escape(text[start : answer[0]])
            + '<strong class="rag-answer">' + escape(text[answer[0] : answer[1]]) + "</strong>"
            + escape(text[answer[1] : end])
        )
    else:
        inner = escape(text[start:end])
    return lead + escape(text[lo:start]) + "<mark>" + inner + "</mark>" + escape(text[end:hi]) + tail


def _context_window(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    lo = max(0, start - width)
    hi = min(len(text), end + width)
    # Start and stop on word boundaries so the context does not begin mid-word.
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space >= 0 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space >= 0 else hi
    return lo, hi


def document_viewer(document: Document, start: int, end: int, answer: tuple[int, int] | None = None) -> str:
    """The whole document (or a large window of a very long one) with the span highlighted; for a scanned page, the
    page image above it with the cited words outlined."""
    lo, hi = 0, len(document.text)
    if hi > VIEWER_MAX_CHARS:
        lo, hi = _context_window(document.text, start, end, VIEWER_MAX_CHARS // 2)
    return page_figure(document, start, end) + f'<div class="rag-doc">{highlighted(document.text, start, end, lo, hi, answer)}</div>'


PAGE_WIDTH_PX = 900


def page_figure(document: Document, start: int, end: int) -> str:
    """The part of the scanned page around text[start:end] as an image, each OCR'd word of the span outlined; ''
    when the span was not read by OCR or the file is no longer there."""
    words = [w for w in document.meta.get("ocr_words") or () if w[0] < end and start < w[1]]
    if not words:
        return ""
    page = int(words[0][2])
    words = [w for w in words if int(w[2]) == page]
    try:
        stat = os.stat(document.source)
    except OSError:
        return ""  # moved or deleted: the text alone is shown
    # The band of the page that holds the cited lines, with some of the lines around them, at full width.
    top = max(0.0, round(min(w[4] for w in words) - BAND_MARGIN, 3))
    bottom = min(1.0, round(max(w[6] for w in words) + BAND_MARGIN, 3))
    picture = _page_picture(document.source, page, stat.st_mtime_ns, stat.st_size, top, bottom)
    if picture is None:
        return ""
    height = bottom - top
    boxes = "".join(
        f'<div class="rag-box" style="left:{x0 * 100:.2f}%;top:{(y0 - top) / height * 100:.2f}%;'
        f'width:{(x1 - x0) * 100:.2f}%;height:{(y1 - y0) / height * 100:.2f}%"></div>'
        for _, _, _, x0, y0, x1, y1 in words
    )
    label = escape(f"{display_name(document)}, page {page + 1}")
    return (f'<figure class="rag-page"><div class="rag-page-frame"><img src="{picture}" alt="{label}">{boxes}</div>'
            f"<figcaption>{label}: the cited words outlined on the scan</figcaption></figure>")


BAND_MARGIN = 0.06  # of the page's height, above and below the cited words


@lru_cache(maxsize=16)
def _page_picture(source: str, page: int, modified_ns: int, size: int, top: float = 0.0, bottom: float = 1.0) -> str | None:
    """The band [top, bottom] (fractions of its height) of a page of an image file or PDF as a JPEG data URI,
    PAGE_WIDTH_PX wide (cached per version of the file)."""
    import base64
    import io
    from pathlib import Path

    from rag.loaders import IMAGE_SUFFIXES

    path = Path(source)
    try:
        if path.suffix.lower() == ".pdf":
            from rag.ocr import render_pdf_page

            image = render_pdf_page(path, page, dpi=110)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            from PIL import Image, ImageOps, ImageSequence

            with Image.open(path) as opened:
                frame = next(f for n, f in enumerate(ImageSequence.Iterator(opened)) if n == page)
                image = ImageOps.exif_transpose(frame).convert("RGB")
        else:
            return None
    except (OSError, ValueError, StopIteration, IndexError):
        return None  # moved, deleted or no longer readable: the text alone is shown
    image = image.convert("RGB")
    width, height = image.size
    image = image.crop((0, round(top * height), width, round(bottom * height)))
    image.thumbnail((PAGE_WIDTH_PX, PAGE_WIDTH_PX * 2))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def source_card(
    number: int | None, document: Document, start: int, end: int, *, score: float | None = None,
    answer: tuple[int, int] | None = None,
) -> str:
    lo, hi = _context_window(document.text, start, end, CONTEXT_CHARS)
    label = f'<span class="rag-num">[{number}]</span> ' if number is not None else ""
    meta = f" · score {score:.2f}" if score is not None else ""
    return (
        '<div class="rag-card">'
        f'<div class="rag-card-head">{label}{heading(document, start, f" · characters {start}–{end}{meta}")}</div>'
        f'<div class="rag-context">{highlighted(document.text, start, end, lo, hi, answer)}</div>'
        '<details class="rag-open"><summary>Open in document</summary>'
        f"{document_viewer(document, start, end, answer)}</details>"
        "</div>"
    )


def documents_table(rows: list[list]) -> str:
    if not rows:
        return "<p>No documents indexed yet.</p>"
    body = "".join(
        f"<tr><td>{escape(str(name))}</td><td>{escape(str(size))}</td><td>{escape(str(chunks))}</td></tr>"
        for name, size, chunks in rows
    )
    return f'<table class="rag-table"><thead><tr><th>Document</th><th>Size</th><th>Chunks</th></tr></thead><tbody>{body}</tbody></table>'


def answer_text(answer: Answer, *, sources_panel: bool = True) -> str:
    """Plain answer text with numbered citation markers. Off the chat window (the API), a declined answer says so
    in words of its own, without pointing at a panel the client does not have."""
    if answer.abstained:
        if not sources_panel:
            return answer.text + " No passage of the indexed documents answers this question."
        return answer.text + " The closest passages are listed under Sources."
    if re.search(r"\[\d+\]", answer.text):  # an explained answer carries its own markers
        markers = ""
    else:
        markers = " ".join(f"[{n}]" for n in range(1, len(answer.citations) + 1))
    note = " (part of this answer could not be matched to the sources)" if answer.partly_unsupported else ""
    return f"{answer.text} {markers}{note}".strip()


def sources_panel(answer: Answer) -> str:
    """Cited passages in context (the answer's own documents, as they were when it was made)."""
    lookup = answer.document
    parts: list[str] = []
    cited_chunks: set[str] = set()
    if answer.abstained:
        # Nothing here supports an answer: plain passages, no highlight and no score that reads like confidence.
        parts.append('<p class="rag-note">The documents do not answer this. The closest passages, for reading:</p>')
        for hit in answer.hits[:3]:
            parts.append(_passage(hit, lookup(hit.chunk.doc_id), ranked=False))
            cited_chunks.add(hit.chunk.chunk_id)
    else:
        for number, citation in enumerate(answer.citations, start=1):
            # The short answer, at the offsets the reader chose, is shown in bold inside the first highlight.
            short = answer.answer_span if number == 1 else None
            parts.append(source_card(number, lookup(citation.doc_id), citation.start, citation.end, answer=short))
            cited_chunks.update(
                h.chunk.chunk_id for h in answer.hits
                if h.chunk.doc_id == citation.doc_id and h.chunk.start <= citation.start and citation.end <= h.chunk.end
            )
    others = [h for h in answer.hits if h.chunk.chunk_id not in cited_chunks]
    if others:
        parts.append(f'<details class="rag-others"><summary>Other retrieved passages ({len(others)})</summary>')
        parts.extend(_passage(h, lookup(h.chunk.doc_id)) for h in others)
        parts.append("</details>")
    return "\n".join(parts)


def _passage(hit: Hit, document: Document, *, ranked: bool = True) -> str:
    rank = f" · rank {hit.rank + 1} · score {hit.score:.2f}" if ranked else f" · characters {hit.chunk.start}–{hit.chunk.end}"
    return (
        '<div class="rag-card rag-passage">'
        f'<div class="rag-card-head">{heading(document, hit.chunk.start, rank)}</div>'
        f'<div class="rag-context">{escape(hit.chunk.text)}</div></div>'
    )


CSS = """
.rag-page { margin: 6px 0 10px; }
.rag-page-frame { position: relative; max-width: 900px; border: 1px solid var(--border-color-primary); }
.rag-page-frame img { width: 100%; display: block; }
.rag-box { position: absolute; outline: 1px solid #e8590c; background: rgba(255, 200, 0, 0.28); }
.rag-page figcaption { font-size: 0.85em; color: var(--body-text-color-subdued); }
.rag-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px; margin: 8px 0;
            background: var(--background-fill-primary); }
.rag-card-head { font-size: 0.9em; margin-bottom: 6px; }
.rag-num { font-weight: 700; color: var(--color-accent); }
.rag-name { font-weight: 600; }
.rag-offsets, .rag-file { color: var(--body-text-color-subdued); }
.rag-file { font-size: 0.92em; }
.rag-context { white-space: pre-wrap; line-height: 1.5; }
.rag-card mark { background: #ffe58a; color: #111; padding: 0 2px; border-radius: 3px; }
.rag-card mark strong.rag-answer { background: #ffc53d; border-radius: 3px; padding: 0 1px; }
.rag-doc { white-space: pre-wrap; max-height: 420px; overflow-y: auto; position: relative; line-height: 1.5;
           border-top: 1px dashed var(--border-color-primary); margin-top: 6px; padding-top: 6px; }
.rag-note { font-weight: 600; }
.rag-table { width: 100%; border-collapse: collapse; }
.rag-table th, .rag-table td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--border-color-primary); }
details.rag-open summary, details.rag-others summary { cursor: pointer; color: var(--color-accent); margin-top: 4px; }
"""

# Opening a source scrolls its highlighted span into the middle of the viewer.
HEAD = """
<script>
document.addEventListener("toggle", (event) => {
  const details = event.target;
  if (!(details instanceof HTMLDetailsElement) || !details.open || !details.classList.contains("rag-open")) return;
  const viewer = details.querySelector(".rag-doc");
  const mark = viewer && viewer.querySelector("mark");
  if (mark) viewer.scrollTop = Math.max(0, mark.offsetTop - viewer.clientHeight / 3);
}, true);
</script>
"""
