"""`rag bench ocr`: word accuracy and seconds per page of the OCR engines on pages rendered from known text.

Pages are A4 at 300 dpi, set in several fonts and sizes, turned by a slight skew and sprinkled with noise, as a
scanner or a phone leaves them. Word accuracy is 1 - (word-level edit distance / words of the text), after folding
case and punctuation that OCR engines disagree on (curly quotes, dashes).
"""

from __future__ import annotations

import re
import statistics
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

DPI = 300
A4 = (2480, 3508)  # pixels at 300 dpi
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FONTS = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "LiberationSans-Regular.ttf", "LiberationSerif-Regular.ttf",
         "LiberationMono-Regular.ttf")


@dataclass(frozen=True)
class PageStyle:
    font: str = "DejaVuSans.ttf"
    points: float = 11.0
    skew_degrees: float = 0.0
    noise: float = 0.0  # share of pixels flipped to a random grey


def font_path(name: str) -> Path | None:
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    return None


def _layout(text: str, style: PageStyle):
    """(font, [(y, line)]) of `text` wrapped onto one A4 page; what does not fit is left out."""
    from PIL import Image, ImageDraw, ImageFont

    pixels = round(style.points * DPI / 72)
    path = font_path(style.font)
    font = ImageFont.truetype(str(path), pixels) if path else ImageFont.load_default(size=pixels)
    draw = ImageDraw.Draw(Image.new("L", (10, 10), 255))
    margin = 250
    average = draw.textlength("abcdefghijklmnopqrstuvwxyz", font=font) / 26
    width = max(20, int((A4[0] - 2 * margin) / average))
    y, placed = margin, []
    for paragraph in text.split("\n\n"):
        for line in textwrap.wrap(paragraph, width=width):
            if y + pixels * 1.5 > A4[1] - margin:
                return font, placed
            placed.append((y, line))
            y += int(pixels * 1.45)
        y += int(pixels * 0.8)
    return font, placed


def render_page(text: str, style: PageStyle = PageStyle(), seed: int = 0):
    """A PIL image of `text` laid out on an A4 page as a scan would show it."""
    import numpy as np
    from PIL import Image, ImageDraw

    font, placed = _layout(text, style)
    page = Image.new("L", A4, 255)
    draw = ImageDraw.Draw(page)
    for y, line in placed:
        draw.text((250, y), line, fill=0, font=font)
    if style.skew_degrees:
        page = page.rotate(style.skew_degrees, resample=Image.BICUBIC, fillcolor=255, expand=False)
    if style.noise:
        rng = np.random.default_rng(seed)
        array = np.asarray(page).copy()
        mask = rng.random(array.shape) < style.noise
        array[mask] = rng.integers(0, 256, int(mask.sum()))
        page = Image.fromarray(array)
    return page


def fits_on_page(text: str, style: PageStyle) -> str:
    """The part of `text` that `render_page` lays out on one page (what the OCR is scored against)."""
    return " ".join(line for _, line in _layout(text, style)[1])


_FOLD = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "–": "-", "|": "I"})


def _words(text: str) -> list[str]:
    return [w for w in re.sub(r"[^\w'%$€.-]+", " ", text.translate(_FOLD).lower()).split() if w.strip(".-")]


def word_accuracy(reference: str, read: str) -> float:
    from rapidfuzz.distance import Levenshtein

    expected, got = _words(reference), _words(read)
    if not expected:
        return 1.0
    return max(0.0, 1.0 - Levenshtein.distance(expected, got) / len(expected))


def engines() -> dict:
    """Name -> function(PIL image) -> text, for the engines installed here: the product's Tesseract path
    (rag.ocr.read_image, with its despeckling) and, when the package is installed, RapidOCR for comparison."""
    from rag import ocr

    found = {}
    if ocr.available():
        found["tesseract"] = lambda image: ocr.read_image(image)[0]
    try:
        from rapidocr_onnxruntime import RapidOCR

        engine = RapidOCR()

        def rapid(image):
            import numpy as np

            result, _ = engine(np.asarray(image.convert("RGB")))
            return "\n".join(item[1] for item in (result or []))

        found["rapidocr"] = rapid
    except ImportError:
        pass
    return found


def run(text: str, styles: list[PageStyle], only: list[str] | None = None, log=None) -> list[dict]:
    rows = []
    for name, read in engines().items():
        if only and name not in only:
            continue
        accuracies, seconds = [], []
        for number, style in enumerate(styles):
            image = render_page(text, style, seed=number)
            started = time.perf_counter()
            got = read(image)
            seconds.append(time.perf_counter() - started)
            accuracies.append(word_accuracy(fits_on_page(text, style), got))
            if log:
                log(f"{name} {style.font} {style.points}pt: {accuracies[-1]:.3f} in {seconds[-1]:.1f} s")
            rows.append({"engine": name, "font": style.font, "points": style.points, "skew": style.skew_degrees,
                         "noise": style.noise, "word_accuracy": round(accuracies[-1], 4),
                         "seconds": round(seconds[-1], 2)})
        rows.append({"engine": name, "font": "all", "pages": len(styles),
                     "word_accuracy": round(statistics.mean(accuracies), 4),
                     "word_accuracy_min": round(min(accuracies), 4),
                     "seconds_p50": round(statistics.median(seconds), 2)})
    return rows


def default_styles() -> list[PageStyle]:
    styles = []
    for number, font in enumerate(FONTS):
        for points in (10.0, 12.0):
            skew = (-1.0, 0.5, 1.5, -0.5)[(number + int(points)) % 4]
            styles.append(PageStyle(font, points, skew, noise=0.01 if points == 10.0 else 0.02))
    return styles


def markdown(rows: list[dict]) -> str:
    lines = ["| engine | pages | word accuracy (mean) | worst page | seconds per page (p50) |", "|---|---|---|---|---|"]
    lines += [f"| {r['engine']} | {r['pages']} | {r['word_accuracy']:.3f} | {r['word_accuracy_min']:.3f} | {r['seconds_p50']} |"
              for r in rows if r.get("font") == "all"]
    lines += ["", "| engine | font | points | skew ° | noise | word accuracy | seconds |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['engine']} | {r['font']} | {r['points']} | {r['skew']} | {r['noise']} | {r['word_accuracy']:.3f} | {r['seconds']} |"
              for r in rows if r.get("font") != "all"]
    return "\n".join(lines) + "\n"
