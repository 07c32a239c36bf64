from pathlib import Path

import pytest

from rag.errors import LoadError
from rag.loaders import clean_text, html_to_text, load_file, load_paths


def test_text_is_cleaned_once_crlf_bom_controls_and_escapes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfFirst line\r\nPrice: \\$500\x07 total\r\n\r\n\r\n\r\nLast  \r\n")
    doc = load_file(path)
    assert doc.text == "First line\nPrice: $500 total\n\nLast"
    assert doc.source == str(path.resolve())
    assert doc.title == "First line"  # a short first line is the title


def test_doc_id_is_a_content_hash(tmp_path):
    (tmp_path / "a.txt").write_text("same words")
    (tmp_path / "b.txt").write_text("same words\r\n")
    (tmp_path / "c.txt").write_text("other words")
    a, b, c = (load_file(tmp_path / n) for n in ("a.txt", "b.txt", "c.txt"))
    assert a.doc_id == b.doc_id != c.doc_id


def test_non_utf8_text_is_decoded(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Café crème, señor, naïve façade and Zürich über alles.".encode("cp1252"))
    assert "Café crème" in load_file(path).text


def test_html_keeps_visible_text_only(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>The Title</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><h1>Heading</h1><p>First &amp; <b>bold</b> paragraph.</p>"
        "<div>Second<br>line</div><noscript>hidden</noscript></body></html>"
    )
    doc = load_file(path)
    assert doc.title == "The Title"
    # The page's title is not shown in its body, so it heads the text, where it can be found and cited.
    assert doc.text == "Title: The Title\n\nHeading\n\nFirst & bold paragraph.\n\nSecond\nline"
    title = doc.meta["fields"]["title"]
    assert doc.text[title[0] : title[1]] == "The Title"
    assert "alert" not in doc.text and "color" not in doc.text and "hidden" not in doc.text


def test_html_to_text_collapses_inline_whitespace():
    text, _ = html_to_text("<p>a\n   b\t c</p>")
    assert clean_text(text) == "a b c"


def test_pdf_text_per_page_with_page_spans(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    for words in ("Alpha page one text.", "Beta page two text."):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.cell(text=words)
    path = tmp_path / "two.pdf"
    pdf.output(str(path))
    doc = load_file(path)
    pages = doc.meta["pages"]
    assert len(pages) == 2
    assert doc.text[slice(*pages[0])] == "Alpha page one text."
    assert doc.text[slice(*pages[1])] == "Beta page two text."
    assert doc.page_at(doc.text.index("Beta")) == 2
    assert doc.page_at(0) == 1


def test_docx_paragraphs_and_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("Opening paragraph.")
    document.add_paragraph("Second paragraph.")
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("City", "Rent"), ("Lyon", "€1,200"), ("Graz", "")]):
        row.cells[0].text, row.cells[1].text = cells
    document.add_paragraph("After the table.")
    path = tmp_path / "memo.docx"
    document.save(str(path))
    # In reading order; each row with its headers, an empty cell left out.
    assert load_file(path).text == ("Opening paragraph.\n\nSecond paragraph.\n\nCity: Lyon · Rent: €1,200\n\n"
                                    "City: Graz\n\nAfter the table.")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.txt", b"", "is empty"),
        ("blank.md", b"  \n\t\n", "is empty"),
        ("binary.txt", bytes(range(256)) * 10, "binary"),
        ("broken.pdf", b"%PDF-1.4 not really", "not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 nope", "not a readable .docx"),
        ("drawing.bmp", b"BM", "unsupported file type '.bmp'"),
    ],
)
def test_bad_files_raise_a_clear_error_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError, match=message) as info:
        load_file(path)
    assert name in str(info.value)


def test_a_bad_file_in_a_folder_does_not_stop_the_others(tmp_path):
    (tmp_path / "good.txt").write_text("good text")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "also.md").write_text("also good")
    (tmp_path / "bad.pdf").write_bytes(b"garbage")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "secret.txt").write_text("hidden folders are skipped")
    result = load_paths([tmp_path])
    assert sorted(Path(d.source).name for d in result.documents) == ["also.md", "good.txt"]
    assert [Path(s.path).name for s in result.skipped] == ["bad.pdf"]
    assert "not a readable PDF" in result.skipped[0].reason


def test_missing_path_and_empty_folder_are_reported(tmp_path):
    (tmp_path / "empty").mkdir()
    result = load_paths([tmp_path / "nope", tmp_path / "empty"])
    assert result.documents == []
    reasons = [s.reason for s in result.skipped]
    assert "does not exist" in reasons[0]
    assert "holds no" in reasons[1]


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.txt"
    path.write_text("secret")
    path.chmod(0)
    with pytest.raises(LoadError, match="permission denied"):
        load_file(path)


def test_html_without_optional_end_tags_keeps_its_body(tmp_path):
    path = tmp_path / "rhine.html"
    path.write_text("<html><head><title>t</title><body><p>The Rhine flows 1,230 km.</body></html>")
    doc = load_file(path)
    assert "The Rhine flows 1,230 km." in doc.text
    omitted = tmp_path / "omitted.html"
    omitted.write_text("<!doctype html><title>Lists</title><p>First<p>Second<ul><li>one<li>two</ul>")
    text = load_file(omitted).text
    assert text.index("First") < text.index("Second") < text.index("one") < text.index("two")


def test_html_tables_breaks_and_entities_read_as_text():
    text, _ = html_to_text(
        "<table><tr><th>Day<th>Level</tr><tr><td>Monday<td>81</tr></table>"
        "<p>a&nbsp;b &amp; c &lt;tag&gt; &eacute;t&eacute; &#8364;5<br>next line</p>"
    )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == "Day: Monday · Level: 81"
    assert "a b & c <tag> été €5" in lines
    assert "next line" in lines


def test_a_saved_web_page_gives_its_article_and_fields():
    doc = load_file(Path(__file__).parent / "data" / "saved-article.html")
    for hidden in ("dataLayer", "schema.org", "svg text", "template text", "promo", "font-family", "tracker"):
        assert hidden not in doc.text
    assert "At the Kaub gauge the water stood at 78 cm on Tuesday" in doc.text
    assert "“We have seen this before, in 2018 and 2022,” said the harbour master, Jens Ott." in doc.text
    fields = {name: doc.text[start:end] for name, (start, end) in doc.meta["fields"].items()}
    assert fields == {"title": "Low water on the Rhine slows barges | Example News", "author": "Greta Vogel",
                      "date": "2026-03-04T07:30:00Z"}


def test_a_text_head_gives_title_byline_and_date():
    from rag.loaders import head_fields

    text = "Rivers of Europe\n\nAnna Berg\n6 March 2026\n\nThe Danube flows through ten countries and many more words follow here."
    fields = {name: text[start:end] for name, (start, end) in head_fields(text).items()}
    assert fields == {"title": "Rivers of Europe", "author": "Anna Berg", "date": "6 March 2026"}
    keyed = "Title: Q3 report\nBy: Jane Doe\nPublished: 2024-05-01\n\nBody."
    assert {n: keyed[s:e] for n, (s, e) in head_fields(keyed).items()} == {
        "title": "Q3 report", "author": "Jane Doe", "date": "2024-05-01"}
    assert head_fields("Just a sentence that ends.\nAnd another one.") == {}


def test_file_properties_not_shown_in_the_text_head_it(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.core_properties.author = "Ines Duarte"
    document.core_properties.title = "Harbour survey"
    document.add_paragraph("The harbour was dredged twice in one year, a record for the port authority of the city.")
    path = tmp_path / "survey.docx"
    document.save(str(path))
    doc = load_file(path)
    assert doc.text.startswith("Title: Harbour survey\nAuthor: Ines Duarte\n\nThe harbour was dredged")
    fields = {name: doc.text[start:end] for name, (start, end) in doc.meta["fields"].items()}
    assert fields == {"title": "Harbour survey", "author": "Ines Duarte"}
