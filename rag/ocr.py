"""Pages without a text layer — scanned PDF pages and image files — read by OCR (Tesseract, through pytesseract).

Tesseract was chosen over RapidOCR after `rag bench ocr` (README, *Scanned pages*): on A4 pages rendered at 300 dpi
from known text in five fonts, two sizes, a slight skew and noise, it read more of the words right. Each page's
text is built from the words Tesseract found, a paragraph per block it saw, words joined by single spaces; every
word keeps its box on the page (as fractions of the page's width and height) and its offsets in the text, so a
citation can be outlined on the page image. Only pages with no text layer are OCR'd.
"""

from __future__ import annotations

import shutil
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from rag.errors import LoadError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
DPI = 300  # PDF pages are rendered at this resolution for OCR
MIN_CONFIDENCE = 0  # Tesseract's -1 marks layout rows, not words


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
    """Whether OCR can run here: pytesseract and the tesseract program with its English data."""
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract

        return "eng" in pytesseract.get_languages(config="")
    except Exception:  # the program fails to start, or no language data
        return False


def missing_hint() -> str:
    return "install OCR with `sudo apt-get install tesseract-ocr tesseract-ocr-eng` (make run does it when it can)"


def read_image(image) -> tuple[str, list[tuple[int, int, float, float, float, float]]]:
    """(text, words with their offsets and boxes) of one page image (a PIL image)."""
    import pytesseract
    from PIL import ImageFilter, ImageOps

    gray = ImageOps.exif_transpose(image).convert("L")
    # A 3-pixel median removes the specks of a scan without thinning the strokes of 8-point text at 300 dpi.
    cleaned = gray.filter(ImageFilter.MedianFilter(3))
    data = pytesseract.image_to_data(cleaned, lang="eng", output_type=pytesseract.Output.DICT)
    width, height = cleaned.size
    text, words, block = "", [], None
    for n, raw in enumerate(data["text"]):
        word = _clean_word(raw)
        if not word or float(data["conf"][n]) < MIN_CONFIDENCE:
            continue
        place = (data["block_num"][n], data["par_num"][n])
        if text:
            text += "\n\n" if place != block else " "
        block = place
        start = len(text)
        text += word
        left, top = data["left"][n], data["top"][n]
        words.append((start, len(text), round(left / width, 5), round(top / height, 5),
                      round((left + data["width"][n]) / width, 5), round((top + data["height"][n]) / height, 5)))
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
