"""Pages without a text layer — scanned PDF pages and image files — read by OCR (the Tesseract program).

Tesseract was chosen over RapidOCR after `rag bench ocr` (docs/how-it-works.md, *Scanned pages*): on A4 pages rendered at 300 dpi
from known text in five fonts, two sizes, a slight skew and noise, it read more of the words right. Each page's
text is built from the words Tesseract found, a paragraph per block it saw, words joined by single spaces; every
word keeps its box on the page (as fractions of the page's width and height) and its offsets in the text, so a
citation can be outlined on the page image. Only pages with no text layer are OCR'd.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from rag.errors import LoadError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
DPI = 300  # PDF pages are rendered at this resolution for OCR
MIN_CONFIDENCE = 0  # Tesseract's -1 marks layout rows, not words
OCR_TIMEOUT = 300  # seconds for one page


@dataclass
class OcrText:
    """Text read from pages: the text, each page's span in it, and each word's [start, end, page, x0, y0, x1, y1]."""

    text: str = ""
    pages: list[tuple[int, int]] = field(default_factory=list)
    words: list[list[float]] = field(default_factory=list)

    def add_page(self, page_text: str, page_words: list[tuple[int, int, float, float, float, float]]) -> None:
        if self.text and page_text:
            self.text += "\n\n"
        offset = len(self.text)
        page = len(self.pages)
        self.pages.append((offset, offset + len(page_text)))
        self.words += [[offset + s, offset + e, page, x0, y0, x1, y1] for s, e, x0, y0, x1, y1 in page_words]
        self.text += page_text


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether OCR can run here: the tesseract program with its English data."""
    if shutil.which("tesseract") is None:
        return False
    try:
        listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, env=_ENV)
    except (OSError, subprocess.SubprocessError):
        return False
    return "eng" in listed.stdout.split()


def missing_hint() -> str:
    return "install OCR with `sudo apt-get install tesseract-ocr tesseract-ocr-eng` (make run does it when it can)"


# Tesseract's OpenMP threads fight each other on a small machine: one thread reads a page 4x faster here (2 cores:
# 9.3 s -> 2.2 s for an A4 page at 300 dpi), so the program runs with one.
_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


def read_image(image) -> tuple[str, list[tuple[int, int, float, float, float, float]]]:
    """(text, words with their offsets and boxes) of one page image (a PIL image)."""
    from PIL import ImageFilter, ImageOps

    gray = ImageOps.exif_transpose(image).convert("L")
    # A 3-pixel median removes the specks of a scan without thinning the strokes of 8-point text at 300 dpi.
    cleaned = gray.filter(ImageFilter.MedianFilter(3))
    width, height = cleaned.size
    with tempfile.TemporaryDirectory(prefix="rag-ocr-") as folder:
        page = os.path.join(folder, "page.png")
        cleaned.save(page)
        try:
            done = subprocess.run(["tesseract", page, "stdout", "-l", "eng", "tsv"], capture_output=True, text=True,
                                  timeout=OCR_TIMEOUT, env=_ENV)
        except subprocess.TimeoutExpired as exc:
            raise LoadError(f"OCR took over {OCR_TIMEOUT} s on one page", hint="check the image is a page of text") from exc
        except OSError as exc:
            raise LoadError(f"tesseract could not run: {exc}", hint=missing_hint()) from exc
    if done.returncode != 0:
        raise LoadError(f"tesseract failed: {done.stderr.strip()[:200]}", hint="check the image opens in a viewer")
    text, words, block = "", [], None
    for row in csv.DictReader(io.StringIO(done.stdout), delimiter="\t", quoting=csv.QUOTE_NONE):
        word = _clean_word(row.get("text") or "")
        if not word or float(row.get("conf") or -1) < MIN_CONFIDENCE:
            continue
        place = (row["block_num"], row["par_num"])
        if text:
            text += "\n\n" if place != block else " "
        block = place
        start = len(text)
        text += word
        left, top, w, h = (int(row[key]) for key in ("left", "top", "width", "height"))
        words.append((start, len(text), round(left / width, 5), round(top / height, 5),
                      round((left + w) / width, 5), round((top + h) / height, 5)))
    return text, words


def _clean_word(raw: str) -> str:
    word = unicodedata.normalize("NFC", raw or "").strip()
    return "".join(ch for ch in word if ch.isprintable() and not ch.isspace())


def read_image_file(path) -> OcrText:
    """Every frame of an image file (a multi-page TIFF has several), OCR'd in turn."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    if not available():
        raise LoadError(f"{path.name} is an image and OCR is not installed", hint=missing_hint())
    try:
        with Image.open(path) as image:
            frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise LoadError(f"{path.name} is not a readable image: {exc}", hint="check the file opens in an image viewer") from exc
    result = OcrText()
    for frame in _progress(frames, path.name):
        result.add_page(*read_image(frame))
    if not result.text.strip():
        raise LoadError(f"{path.name}: no text was found in the image", hint="check it is a scan of text, upright")
    return result


def render_pdf_page(path, index: int, dpi: int = DPI):
    """A PIL image of one PDF page (pdfium), for OCR and for showing a citation on its page."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    try:
        return document[index].render(scale=dpi / 72).to_pil()
    finally:
        document.close()


def _progress(items, name: str):
    from tqdm import tqdm

    return tqdm(items, desc=f"OCR {name}", unit="page", leave=False, disable=None)


def ocr_pdf_pages(path, indexes: list[int]) -> dict[int, tuple[str, list]]:
    """Page index -> (text, words) for the PDF pages that have no text layer, OCR'd one at a time (bounded memory)."""
    return {index: read_image(render_pdf_page(path, index)) for index in _progress(indexes, path.name)}
