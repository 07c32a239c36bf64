"""Tables, spreadsheets, decks and mail: each format made here, read back with its awkward text intact, each cell
beside its header, and the offsets true (a chunk's text is the document's text at its offsets)."""

import unicodedata
from email.message import EmailMessage

import pytest

from rag.chunking import Chunker, ChunkSettings
from rag.errors import LoadError
from rag.loaders import load_file, load_paths
from rag.tables import has_header, rows_as_text
from rag.text import sentence_spans

AWKWARD = "naïve “quotes” — 5 µm, 東京, e\u0301 and a tab\there"


def _row_sentences(document):
    return [document.text[s:e] for s, e in sentence_spans(document.text)]


def _offsets_hold(document):
    for chunk in Chunker(lambda text: len(text.split()), ChunkSettings(chunk_tokens=24, overlap_tokens=6)).chunk(document):
        assert document.text[chunk.start : chunk.end] == chunk.text


def test_rows_keep_their_headers_and_a_first_row_of_values_is_not_a_header():
    assert rows_as_text([["Country", "Capital"], ["Chile", "Santiago"], ["Peru", None]]) == [
        "Country: Chile · Capital: Santiago", "Country: Peru"]
    assert not has_header([["2021", "Chile"], ["2022", "Peru"]])  # numbers name no column
    assert rows_as_text([["2021", "Chile"], ["2022", "Peru"]]) == ["2021 · Chile", "2022 · Peru"]
    assert rows_as_text([[], ["", None]]) == []


def test_csv_rows_are_paragraphs_that_a_citation_can_open_at(tmp_path):
    path = tmp_path / "capitals.csv"
    path.write_text(f"Country;Capital;Note\nChile;Santiago;{AWKWARD}\nNorway;Oslo;\"a; b\"\n", encoding="utf-8")
    document = load_file(path)
    rows = _row_sentences(document)
    assert "Country: Norway · Capital: Oslo · Note: a; b" in rows
    chile = next(r for r in rows if "Chile" in r)
    assert chile.startswith("Country: Chile · Capital: Santiago · Note: naïve “quotes” — 5 µm, 東京, é and a tab here")
    _offsets_hold(document)


def test_tsv_and_a_bad_csv_in_a_folder(tmp_path):
    (tmp_path / "a.tsv").write_text("Name\tAge\nAda\t36\n", encoding="utf-8")
    (tmp_path / "b.csv").write_bytes(bytes(range(256)) * 20)
    result = load_paths([tmp_path])
    assert [d.text for d in result.documents] == ["Name: Ada · Age: 36"]
    assert len(result.skipped) == 1 and "b.csv" in result.skipped[0].path


def test_xlsx_sheets_rows_and_the_sheet_a_citation_names(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Prices"
    for row in (["Item", "Price", "Note"], ["Tea", 3.5, AWKWARD], ["Milk", 1.0, None]):
        first.append(row)
    second = book.create_sheet("Staff")
    for row in (["Name", "Room"], ["Zoë", 12]):
        second.append(row)
    path = tmp_path / "book.xlsx"
    book.save(path)
    document = load_file(path)
    assert "Item: Milk · Price: 1" in _row_sentences(document)
    zoe = document.text.index("Name: Zoë · Room: 12")
    assert document.place_at(zoe) == "sheet Staff" and document.place_at(document.text.index("Tea")) == "sheet Prices"
    _offsets_hold(document)


def test_pptx_slides_notes_and_tables(tmp_path):
    pptx = pytest.importorskip("pptx")
    from pptx.util import Inches

    deck = pptx.Presentation()
    one = deck.slides.add_slide(deck.slide_layouts[1])
    one.shapes.title.text = "Quarterly review"
    one.placeholders[1].text = AWKWARD
    one.notes_slide.notes_text_frame.text = "Say the budget grew by 4%."
    two = deck.slides.add_slide(deck.slide_layouts[5])
    two.shapes.title.text = "Figures"
    table = two.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "Region", (0, 1): "Sales", (1, 0): "North", (1, 1): "€2.1 M"}.items():
        table.cell(r, c).text = value
    path = tmp_path / "deck.pptx"
    deck.save(path)
    document = load_file(path)
    assert "Quarterly review\n\n" + unicodedata.normalize("NFC", AWKWARD) in document.text
    assert "Notes: Say the budget grew by 4%." in document.text
    row = document.text.index("Region: North · Sales: €2.1 M")
    assert document.place_at(row) == "slide 2" and document.place_at(document.text.index("Notes:")) == "slide 1"
    _offsets_hold(document)


def test_eml_headers_as_fields_and_its_body(tmp_path):
    message = EmailMessage()
    message["From"] = "Zoë Martín <zoe@example.org>"
    message["To"] = "team@example.org"
    message["Date"] = "Tue, 03 Nov 2026 09:12:00 +0100"
    message["Subject"] = "Boiler repair — Thursday"
    message.set_content(f"The plumber comes on Thursday at 9.\n\n{AWKWARD}\n")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="quote.pdf")
    path = tmp_path / "mail.eml"
    path.write_bytes(bytes(message))
    document = load_file(path)
    assert document.title == "Boiler repair — Thursday"
    for field in ("From: Zoë Martín <zoe@example.org>", "Date: Tue, 03 Nov 2026 09:12:00 +0100",
                  "The plumber comes on Thursday at 9.", "naïve “quotes”", "Attachments: quote.pdf"):
        assert field in document.text, field
    _offsets_hold(document)


@pytest.mark.parametrize("name", ["broken.xlsx", "broken.pptx"])
def test_broken_office_files_say_so(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(LoadError, match="not a readable"):
        load_file(path)


def _epub(path, chapters, title="A Field Guide", author="Ana Núñez"):
    import zipfile

    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr("META-INF/container.xml",
                      '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
                      '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
                      '</rootfiles></container>')
        items = "".join(f'<item id="c{n}" href="text/c{n}.xhtml" media-type="application/xhtml+xml"/>'
                        for n in range(len(chapters)))
        # The spine, not the manifest, gives the reading order: here the reverse of the manifest's.
        spine = "".join(f'<itemref idref="c{n}"/>' for n in reversed(range(len(chapters))))
        book.writestr("OEBPS/content.opf",
                      '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
                      '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
                      f'<dc:title>{title}</dc:title><dc:creator>{author}</dc:creator></metadata>'
                      f'<manifest>{items}</manifest><spine>{spine}</spine></package>')
        for n, body in enumerate(chapters):
            book.writestr(f"OEBPS/text/c{n}.xhtml",
                          f'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                          f"<head><title>c{n}</title></head><body>{body}</body></html>")


def test_epub_chapters_in_reading_order_and_the_chapter_a_citation_names(tmp_path):
    path = tmp_path / "guide.epub"
    _epub(path, ["<h1>Two</h1><p>Herons nest in tall reeds.</p>",
                 f"<h1>One</h1><p>{AWKWARD.replace(chr(9), ' ')}</p><script>alert(1)</script>"])
    document = load_file(path)
    assert document.title == "A Field Guide"
    one, two = document.text.index("One"), document.text.index("Herons nest")
    assert one < two and "alert" not in document.text and "naïve “quotes”" in document.text
    assert document.place_at(one) == "chapter 1" and document.place_at(two) == "chapter 2"
    _offsets_hold(document)


def _mail_with(attachments, subject="Quote for the boiler"):
    message = EmailMessage()
    message["From"] = "ana@example.org"
    message["Subject"] = subject
    message.set_content("The quote is attached.\n")
    for name, data, subtype in attachments:
        if subtype == "plain":
            message.add_attachment(data.decode(), filename=name)
        else:
            message.add_attachment(data, maintype="application", subtype=subtype, filename=name)
    return bytes(message)


def test_a_mails_readable_attachments_are_documents_of_their_own(tmp_path):
    from rag.loaders import container_of, load_documents

    path = tmp_path / "mail.eml"
    path.write_bytes(_mail_with([("quote.txt", f"Labour: 3 hours at €60.\n\n{AWKWARD}\n".encode(), "plain"),
                                 ("costs.csv", "Item,Price\nPump,€240\nValve,€35\n".encode(), "csv"),
                                 ("broken.pdf", b"%PDF-1.4 not really", "pdf"),
                                 ("photo.bin", b"\x00\x01", "octet-stream")]))
    loaded = load_documents(path)
    mail, *attached = loaded.documents
    assert mail.source == str(path.resolve()) and "Attachments: quote.txt, costs.csv, broken.pdf, photo.bin" in mail.text
    assert [d.source for d in attached] == [f"{mail.source}#quote.txt", f"{mail.source}#costs.csv"]
    assert all(container_of(d) == mail.source and d.meta["name"] in d.source for d in attached)
    assert "Labour: 3 hours at €60." in attached[0].text and "Item: Pump · Price: €240" in attached[1].text
    for document in loaded.documents:
        _offsets_hold(document)
    # the unreadable attachment is reported under its own name and does not stop the mail or the others
    assert [s.path for s in loaded.skipped] == [f"{mail.source}#broken.pdf"]
    assert "broken.pdf" in loaded.skipped[0].reason and "rag-attachment-" not in loaded.skipped[0].reason
