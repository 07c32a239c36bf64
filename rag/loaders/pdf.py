"""PDF pages (scanned ones by OCR) and image files (by OCR), with page spans and word boxes."""

from __future__ import annotations

from pathlib import Path

from rag.errors import LoadError
from rag.loaders.text import clean_text


def _read_pdf(path: Path) -> tuple[str, dict[str, str], dict]:
    """Text per page; the page spans in the cleaned text are kept in meta['pages'] so citations can name pages.
    A page with no text layer (a scan) is read by OCR when it is installed (`rag.ocr`), its words' boxes kept in
    meta['ocr_words'] as [start, end, page index, x0, y0, x1, y1] so a citation can be outlined on the page."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    from rag import ocr

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"{path.name} is an encrypted PDF", hint="remove its password and index it again")
        pages = [clean_text(page.extract_text() or "") for page in _page_progress(reader.pages, path.name)]
        info = reader.metadata or {}
        # No date from the file's properties: they say when the file was made, not when the text was written.
        properties = {"title": str(info.get("/Title") or ""), "author": str(info.get("/Author") or "")}
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise LoadError(f"{path.name} is not a readable PDF: {exc}", hint="check the file opens in a PDF viewer") from exc
    scanned = [n for n, page in enumerate(pages) if not page.strip()]
    read = ocr.ocr_pdf_pages(path, scanned) if scanned and ocr.available() else {}
    result = ocr.OcrText()
    for number, page in enumerate(pages):
        if number in read:
            result.add_page(*read[number])
        else:
            result.add_page(page, [])
    if not result.text.strip():
        if scanned and not ocr.available():
            raise LoadError(f"{path.name} has no text layer (a scanned PDF) and OCR is not installed", hint=ocr.missing_hint())
        raise LoadError(f"{path.name} has no extractable text", hint="check the PDF holds text or a scan of text")
    meta = {"pages": result.pages}
    if result.words:
        meta["ocr_words"] = result.words
        meta["ocr_pages"] = sorted(read)
    return result.text, properties, meta


def _page_progress(pages, name: str):
    """A per-page bar on stderr for long PDFs (shown on a terminal only)."""
    if len(pages) < 50:
        return pages
    from tqdm import tqdm

    return tqdm(pages, desc=f"Reading {name}", unit="page", leave=False, disable=None)


def _read_image(path: Path) -> tuple[str, dict[str, str], dict]:
    from rag import ocr

    result = ocr.read_image_file(path)
    return result.text, {}, {"pages": result.pages, "ocr_words": result.words,
                             "ocr_pages": list(range(len(result.pages)))}
