"""Scanned pages: an image and a PDF page without a text layer, rendered here from known text, read by OCR with
their words' boxes; a PDF's text pages are not OCR'd."""

import pytest

from rag import ocr
from rag.errors import LoadError
from rag.loaders import load_file
from rag.ocr_bench import PageStyle, fits_on_page, render_page, word_accuracy

pytestmark = pytest.mark.integration

KNOWN = ("The harbour board met on Tuesday and agreed to repair the north pier before the winter storms. "
         "Repairs will cost 41,500 pounds and take six weeks.\n\n"
         "Fishing boats will moor at the south quay until the work is finished.")
STYLE = PageStyle("DejaVuSerif.ttf", 12.0, skew_degrees=0.6, noise=0.01)


def test_ocr_is_installed_by_the_set_up():
    assert ocr.available(), ocr.missing_hint()


def test_a_scanned_image_is_read_with_each_word_where_it_stands(tmp_path):
    path = tmp_path / "letter.png"
    render_page(KNOWN, STYLE).save(path)
    document = load_file(path)
    assert word_accuracy(fits_on_page(KNOWN, STYLE), document.text) >= 0.97
    assert "41,500" in document.text and document.place_at(document.text.index("pier")) == "page 1"
    words = document.meta["ocr_words"]
    assert words and all(document.text[int(w[0]) : int(w[1])].strip() == document.text[int(w[0]) : int(w[1])] for w in words)
    pier = next(w for w in words if document.text[int(w[0]) : int(w[1])].startswith("pier"))
    x0, y0, x1, y1 = pier[3:]
    assert 0 < x0 < x1 < 1 and 0 < y0 < y1 < 0.3  # on the page, in its upper part where the text was set
    assert document.text.count("\n\n") >= 1  # the second paragraph stays apart


def test_only_the_pdf_pages_without_text_are_ocrd(tmp_path):
    from fpdf import FPDF

    image = tmp_path / "scan.png"
    render_page(KNOWN, STYLE).save(image)
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="Cover page with a text layer.")
    pdf.add_page()
    pdf.image(str(image), x=0, y=0, w=210, h=297)
    path = tmp_path / "mixed.pdf"
    pdf.output(str(path))
    document = load_file(path)
    assert document.meta["ocr_pages"] == [1]
    assert document.text.startswith("Cover page with a text layer.")
    assert "north pier" in document.text and document.place_at(document.text.index("north pier")) == "page 2"
    assert all(w[2] == 1 for w in document.meta["ocr_words"])


def test_a_broken_image_says_so(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG not really")
    with pytest.raises(LoadError, match="not a readable image"):
        load_file(path)
