"""Files -> Documents. Text is decoded and cleaned here, once; every later offset refers to the cleaned text.

Supported: .txt, .md, .html/.htm, .pdf (scanned pages by OCR), .docx, .csv/.tsv, .xlsx, .pptx, .eml, .epub, and
images (.png, .jpg, .tif) by OCR. Tables (in any of them) become one
paragraph per row with each cell beside its header (`rag.tables`). `load_paths` walks folders recursively and never
lets one bad file stop the others: each file that cannot be read is reported in `LoadResult.skipped` with the reason.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from rag.errors import LoadError
from rag.tables import rows_as_text
from rag.types import Document

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + (".pdf", ".docx") + TABLE_SUFFIXES + (".pptx", ".eml", ".epub")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")  # read by OCR (rag.ocr)
SUPPORTED_SUFFIXES += IMAGE_SUFFIXES
MAX_FILE_BYTES = 200 * 1024 * 1024

# Markdown-style backslash escapes left behind by converters ("\$500", "\_id"): the reader sees the character.
_STRAY_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$%&~|<>])")
# C0/C1 control characters other than tab and newline, plus zero-width and BOM characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
# A paragraph break inside a sentence ("some of the\n\npoorest layers"), left by web and PDF extraction.
_BROKEN_PARAGRAPH = re.compile(r"(?<=[a-z,])\n\n(?=[a-z])")


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def clean_text(text: str) -> str:
    """Normalise once: Unicode NFC, LF line endings, no control characters or stray escapes, tidy blank lines."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _STRAY_ESCAPE.sub(r"\1", text)
    text = _TRAILING_SPACE.sub("\n", text)
    text = _MANY_BLANK_LINES.sub("\n\n", text)
    text = _BROKEN_PARAGRAPH.sub(" ", text)
    return text.strip()


def content_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def decode_bytes(data: bytes, name: str) -> str:
    """Decode text of unknown encoding; refuse data that is not text."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError(f"{name} starts like UTF-16 text but is cut or damaged ({exc.reason})",
                            hint="save it again as UTF-8 and index it again") from exc
    if b"\x00" in data[:8192]:
        raise LoadError(f"{name} looks like a binary file, not text", hint="convert it to .txt, .md, .pdf or .docx")
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError(f"{name} is not readable text in any known encoding", hint="save it as UTF-8 and index it again")
    # Short samples leave the single-byte Latin code pages hard to tell apart; Windows-1252 is by far the most
    # common of them, so it wins whenever it decodes the bytes.
    if re.fullmatch(r"(cp|windows-)125\d|iso8859_\d+|latin_1|mac_\w+", best.encoding):
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    return str(best)


def _html_tree(html: str):
    import lxml.etree
    import lxml.html

    try:
        return lxml.html.document_fromstring(html)
    except ValueError:  # a str that still carries an XML encoding declaration: parse its UTF-8 bytes instead
        parser = lxml.html.HTMLParser(encoding="utf-8")
        return lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except lxml.etree.ParserError:  # nothing an HTML parser can use (empty, only comments)
        return None


_HTML_DATE_META = ("date", "dc.date", "dcterms.date", "article:published_time", "pubdate", "publish-date",
                   "og:published_time", "dc.date.issued", "citation_publication_date")


_LAYOUT_CELL = 300  # a cell this long is a page laid out in a table, not data: left to the browser-like layout


def _tables_as_rows(tree) -> None:
    """Each data table becomes one paragraph per row, cells beside their headers (innermost tables first)."""
    import lxml.html

    tables = sorted(tree.iter("table"), key=lambda t: -sum(1 for _ in t.iterancestors()))
    for table in tables:
        rows = table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")
        cells = [[" ".join(c.text_content().split()) for c in row.xpath("./th|./td")] for row in rows]
        if not cells or any(len(c) > _LAYOUT_CELL for row in cells for c in row):
            continue
        first = rows[0].xpath("./th|./td")
        header = True if first and all(c.tag == "th" for c in first) else None
        replacement = lxml.html.Element("div")
        for line in rows_as_text(cells, header=header):
            paragraph = lxml.html.Element("p")
            paragraph.text = line
            replacement.append(paragraph)
        replacement.tail = table.tail
        table.getparent().replace(table, replacement)


def html_to_text(html: str) -> tuple[str, str]:
    """(visible text, title) of an HTML page."""
    text, properties = html_to_text_and_properties(html)
    return text, properties.get("title", "")


def html_to_text_and_properties(html: str) -> tuple[str, dict[str, str]]:
    """The text a browser shows (inscriptis lays out blocks, lists and tables; scripts, styles and the head are
    left out), and the page's title, author and date from its head."""
    from inscriptis import Inscriptis
    from inscriptis.model.config import ParserConfig

    tree = _html_tree(html)
    if tree is None:
        return "", {}
    properties: dict[str, str] = {}
    title = " ".join((tree.findtext(".//title") or "").split())
    if title:
        properties["title"] = title
    for meta in tree.iter("meta"):
        key = (meta.get("name") or meta.get("property") or "").strip().lower()
        value = " ".join((meta.get("content") or "").split())
        if not value:
            continue
        if key in ("author", "dc.creator", "article:author", "citation_author") and "author" not in properties:
            properties["author"] = value
        elif key in _HTML_DATE_META and "date" not in properties:
            properties["date"] = value
    for bad in tree.xpath("//script|//style|//noscript|//template|//svg|//iframe|//object"):
        bad.drop_tree()
    _tables_as_rows(tree)
    text = Inscriptis(tree, ParserConfig(display_links=False, display_anchors=False)).get_text()
    lines = [re.sub(r"[ \t\f\v\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(lines), properties


def _read_text(path: Path) -> tuple[str, dict[str, str], dict]:
    return decode_bytes(path.read_bytes(), path.name), {}, {}


def _read_html(path: Path) -> tuple[str, dict[str, str], dict]:
    text, properties = html_to_text_and_properties(decode_bytes(path.read_bytes(), path.name))
    return text, properties, {}


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


def _read_docx(path: Path) -> tuple[str, dict[str, str], dict]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, ValueError, KeyError, OSError) as exc:
        raise LoadError(f"{path.name} is not a readable .docx file: {exc}", hint="re-save it from a word processor") from exc
    except Exception as exc:  # zipfile.BadZipFile and lxml errors have no common base
        raise LoadError(f"{path.name} is not a readable .docx file: {exc}", hint="re-save it from a word processor") from exc
    from docx.table import Table

    blocks: list[str] = []
    for item in document.iter_inner_content():  # paragraphs and tables in reading order
        if isinstance(item, Table):
            blocks += rows_as_text([_docx_cells(row) for row in item.rows])
        else:
            blocks.append(item.text)
    core = document.core_properties
    properties = {"title": core.title or "", "author": core.author or ""}
    return _joined(blocks), properties, {}


def _docx_cells(row) -> list[str]:
    # A merged cell is returned once per grid column it spans: kept once.
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append(cell.text)
    return cells


def _joined(blocks: Iterable[str]) -> str:
    """Blocks (paragraphs, table rows, slides) cleaned one by one and set apart by blank lines, so that a block is
    never run into the next by the repair of broken paragraphs."""
    return "\n\n".join(b for b in (clean_text(block) for block in blocks) if b)


def _read_csv(path: Path) -> tuple[str, dict[str, str], dict]:
    import csv

    raw = decode_bytes(path.read_bytes(), path.name)
    sample = raw[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters="\t" if path.suffix.lower() == ".tsv" else ",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    try:
        rows = list(csv.reader(raw.splitlines(), dialect))
    except csv.Error as exc:
        raise LoadError(f"{path.name} is not a readable table: {exc}", hint="save it again as CSV (UTF-8)") from exc
    return _joined(rows_as_text(rows)), {}, {}


def _read_xlsx(path: Path) -> tuple[str, dict[str, str], dict]:
    """Each sheet in turn, its name as a heading, then its rows; meta['pages'] holds each sheet's span."""
    import zipfile

    import openpyxl

    try:
        book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise LoadError(f"{path.name} is not a readable .xlsx file: {exc}", hint="re-save it from a spreadsheet program") from exc
    text, spans, names = "", [], []
    try:
        for sheet in book.worksheets:
            rows = rows_as_text(sheet.iter_rows(values_only=True))
            if not rows:
                continue
            block = _joined([f"Sheet: {sheet.title}", *rows])
            text += ("\n\n" if text else "")
            spans.append((len(text), len(text) + len(block)))
            names.append(sheet.title)
            text += block
    finally:
        book.close()
    properties = {"title": book.properties.title or "", "author": book.properties.creator or ""}
    return text, properties, {"pages": spans, "page_unit": "sheet", "page_names": names}


def _read_pptx(path: Path) -> tuple[str, dict[str, str], dict]:
    """Each slide's text (titles, text boxes, tables as rows) and its speaker notes; meta['pages'] holds the slides."""
    import zipfile

    import pptx
    from pptx.exc import PackageNotFoundError

    try:
        deck = pptx.Presentation(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise LoadError(f"{path.name} is not a readable .pptx file: {exc}", hint="re-save it from a presentation program") from exc
    text, spans = "", []
    for slide in deck.slides:
        blocks: list[str] = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                blocks += [p.text if hasattr(p, "text") else "" for p in shape.text_frame.paragraphs]
            elif getattr(shape, "has_table", False) and shape.has_table:
                blocks += rows_as_text([[c.text for c in row.cells] for row in shape.table.rows])
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text
            if notes.strip():
                blocks.append(f"Notes: {notes}")
        block = _joined(blocks)
        if text and block:
            text += "\n\n"
        spans.append((len(text), len(text) + len(block)))
        text += block
    core = deck.core_properties
    return text, {"title": core.title or "", "author": core.author or ""}, {"pages": spans, "page_unit": "slide"}


def _read_epub(path: Path) -> tuple[str, dict[str, str], dict]:
    """An e-book: its chapters in reading order (the package's spine), each as the text a browser shows;
    meta['pages'] holds the chapters so a citation names its chapter."""
    import posixpath
    import zipfile

    import lxml.etree

    try:
        with zipfile.ZipFile(path) as book:
            container = lxml.etree.fromstring(book.read("META-INF/container.xml"))
            opf_path = container.xpath("//*[local-name()='rootfile']/@full-path")[0]
            opf = lxml.etree.fromstring(book.read(opf_path))
            folder = posixpath.dirname(opf_path)
            items = {i.get("id"): i.get("href") for i in opf.xpath("//*[local-name()='manifest']/*[local-name()='item']")}
            order = [items[r] for r in opf.xpath("//*[local-name()='spine']/*[local-name()='itemref']/@idref") if r in items]
            chapters = [book.read(posixpath.normpath(posixpath.join(folder, href))).decode("utf-8", "replace")
                        for href in order]
            title = " ".join(opf.xpath("string(//*[local-name()='metadata']/*[local-name()='title'])").split())
            author = " ".join(opf.xpath("string(//*[local-name()='metadata']/*[local-name()='creator'])").split())
    except (zipfile.BadZipFile, KeyError, IndexError, ValueError, lxml.etree.XMLSyntaxError, OSError) as exc:
        raise LoadError(f"{path.name} is not a readable .epub file: {exc}", hint="check the book opens in an e-reader") from exc
    text, spans = "", []
    for chapter in chapters:
        block = _joined([html_to_text(chapter)[0]])
        if text and block:
            text += "\n\n"
        spans.append((len(text), len(text) + len(block)))
        text += block
    return text, {"title": title, "author": author}, {"pages": spans, "page_unit": "chapter"}


def _read_eml(path: Path) -> tuple[str, dict[str, str], dict]:
    """A mail: its headers as fields (From, To, Date, Subject) above its body; an HTML-only body as its text."""
    from email import policy
    from email.parser import BytesParser

    try:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    except (ValueError, TypeError, IndexError) as exc:
        raise LoadError(f"{path.name} is not a readable mail: {exc}", hint="save the mail again as .eml") from exc
    heads = [f"{name}: {' '.join(str(message[name]).split())}" for name in ("From", "To", "Cc", "Date", "Subject")
             if message[name]]
    body = message.get_body(preferencelist=("plain", "html"))
    content = ""
    if body is not None:
        try:
            content = body.get_content()
        except (LookupError, ValueError):  # an unknown charset: read as bytes
            content = decode_bytes(body.get_payload(decode=True) or b"", path.name)
        if body.get_content_type() == "text/html":
            content = html_to_text(content)[0]
    attachments = [part.get_filename() for part in message.iter_attachments() if part.get_filename()]
    blocks = ["\n".join(heads), content]
    if attachments:
        blocks.append("Attachments: " + ", ".join(attachments))
    properties = {"title": " ".join(str(message["Subject"] or "").split()),
                  "author": " ".join(str(message["From"] or "").split())}
    return _joined(blocks), properties, {}


_READERS: dict[str, Callable[[Path], tuple[str, str, dict]]] = {
    **{s: _read_text for s in TEXT_SUFFIXES},
    **{s: _read_html for s in HTML_SUFFIXES},
    ".pdf": _read_pdf,
    ".docx": _read_docx,
    ".csv": _read_csv,
    ".tsv": _read_csv,
    ".xlsx": _read_xlsx,
    ".pptx": _read_pptx,
    ".eml": _read_eml,
    ".epub": _read_epub,
    **{s: _read_image for s in (".png", ".jpg", ".jpeg", ".tif", ".tiff")},
}
# Readers that clean their text themselves, block by block (pages, rows, slides), so that their spans stay true.
_CLEANED = {".pdf", ".docx", ".csv", ".tsv", ".xlsx", ".pptx", ".eml", ".epub", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def load_file(path: str | Path, *, source: str | None = None) -> Document:
    """Load one file. Raises LoadError with the file's name and what to do."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"{path} does not exist", hint="check the path")
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise LoadError(
            f"{path.name}: unsupported file type '{suffix or '(none)'}'",
            hint=f"supported types are {', '.join(SUPPORTED_SUFFIXES)}",
        )
    try:
        stat = path.stat()
        size, modified = stat.st_size, stat.st_mtime_ns
        if size > MAX_FILE_BYTES:
            raise LoadError(f"{path.name} is {size // 2**20} MB, over the {MAX_FILE_BYTES // 2**20} MB limit", hint="split it")
        raw, properties, meta = reader(path)
    except PermissionError as exc:
        raise LoadError(f"{path.name} cannot be read: permission denied", hint="check the file's permissions") from exc
    except IsADirectoryError as exc:
        raise LoadError(f"{path} is a folder", hint="pass the folder itself to load everything in it") from exc
    except OSError as exc:
        raise LoadError(f"{path.name} cannot be read: {exc.strerror or exc}", hint="check the file") from exc
    # PDF pages (and rows, slides) are cleaned one by one so that their spans stay true; cleaning is idempotent.
    text = raw if suffix in _CLEANED else clean_text(raw)
    if not text:
        raise LoadError(f"{path.name} is empty", hint="add text to it or leave it out")
    text, fields, shift = with_fields(text, properties)
    if shift and meta.get("pages"):
        meta["pages"] = [(start + shift, end + shift) for start, end in meta["pages"]]
    if shift and meta.get("ocr_words"):
        meta["ocr_words"] = [[start + shift, end + shift, *box] for start, end, *box in meta["ocr_words"]]
    title = text[fields["title"][0] : fields["title"][1]] if "title" in fields else ""
    resolved = source or str(path.resolve())
    return Document(
        doc_id=content_id(text),
        source=resolved,
        title=title or path.name,
        text=text,
        meta={**meta, "size_bytes": size, "modified_ns": modified, "name": path.name, **({"fields": fields} if fields else {})},
    )


# ----- a document's own title, author and date --------------------------------------------------------------------

_MONTHS = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
           r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?")
_DATE = (rf"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?"
         rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS},?\s+\d{{4}}|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
         rf"|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}})")
_DATE_LINE = re.compile(rf"(?:(?:published|updated|posted|dated?)\s*:?\s*)?(?P<value>{_DATE})(?:[,\s]+\d{{1,2}}:\d{{2}}.*)?", re.I)
_KEY_LINE = re.compile(r"(?P<key>title|author|authors|by|written by|date|published|posted)\s*:\s*(?P<value>\S.*)", re.I)
_BY_LINE = re.compile(r"(?i:by)\s+(?P<value>[A-Z][\w.’'\-]+(?:\s+[A-Z][\w.’'\-]+){0,3}(?:\s+and\s+[A-Z][\w.’'\-]+(?:\s+[A-Z][\w.’'\-]+){0,3})?)\s*$")
_NAME_LINE = re.compile(r"(?P<value>[A-Z][a-zà-ÿ’'\-]+\.?(?:\s+[A-Z][\wà-ÿ’'\-]*\.?){1,3})")
_KEYS = {"title": "title", "author": "author", "authors": "author", "by": "author", "written by": "author",
         "date": "date", "published": "date", "posted": "date"}
HEAD_LINES = 8  # lines at the top of a document searched for its title, byline and date


def head_fields(text: str) -> dict[str, list[int]]:
    """Title, author and date lines at the top of a text, as [start, end] spans of their values.

    The head is the run of short lines before the first line that reads like body text: "key: value" lines
    (title, author, by, date), a "By Name" byline, a line that is only a date, a line that is only a name
    (two to four capitalised words) after the title, and the first other short line as the title."""
    fields: dict[str, list[int]] = {}
    seen = 0
    for match in re.finditer(r"[^\n]+", text):
        line = match.group().strip()
        offset = match.start() + (len(match.group()) - len(match.group().lstrip()))
        if seen >= HEAD_LINES or len(line) > 150 or len(line.split()) > 20:
            break
        if line in ("---", "+++"):  # a front-matter fence
            continue
        seen += 1
        for pattern, key in ((_KEY_LINE, None), (_BY_LINE, "author"), (_DATE_LINE, "date")):
            found = pattern.fullmatch(line)
            if found:
                field = key or _KEYS[found.group("key").lower()]
                value = found.group("value").strip().strip("\"'")
                start = offset + line.index(value)
                fields.setdefault(field, [start, start + len(value)])
                break
        else:
            heading = re.fullmatch(r"#{1,6}\s+(?P<value>.+)|(?P<plain>.+)", line)
            value = (heading.group("value") or heading.group("plain")).strip()
            first = seen == 1 or heading.group("value") is not None  # a title opens the text (or is a heading)
            if "title" not in fields and first and not value.endswith((".", "!", "?", ":", ";", ",")):
                start = offset + line.index(value)
                fields["title"] = [start, start + len(value)]
            elif "author" not in fields and _NAME_LINE.fullmatch(value) and not re.search(r"\d", value):
                start = offset + line.index(value)
                fields["author"] = [start, start + len(value)]
    return fields


# Authors that word processors and PDF libraries write when nobody set one.
_TOOL_AUTHORS = {"python-docx", "openpyxl", "python-pptx", "unknown", "author", "admin", "administrator", "user", "owner", "microsoft office user"}


def _usable_property(key: str, value: str) -> bool:
    """File properties are often tool defaults ("Untitled", "Microsoft Word - draft.docx"): those say nothing."""
    value = value.strip()
    if not value or len(value) > 300:
        return False
    if key == "title" and (re.search(r"\.(docx?|pdf|txt|html?|odt|rtf|xlsx?|pptx?|csv)$", value, re.I) or value.lower() in ("untitled", "title")):
        return False
    if key == "author" and value.lower() in _TOOL_AUTHORS:
        return False
    return True


def with_fields(text: str, properties: dict[str, str]) -> tuple[str, dict[str, list[int]], int]:
    """(text, field spans, shift). Fields the file states (HTML head, PDF and DOCX properties) are found in the text's
    head; those it does not show are put in a header of "Key: value" lines at the top of the text, so they can be
    searched and cited like any other span (every other offset then moves by `shift`). Fields a plain text states
    in its first lines are found there."""
    fields = head_fields(text)
    header: list[tuple[str, str]] = []
    for key in ("title", "author", "date"):
        value = " ".join(clean_text(properties.get(key) or "").split())
        if not _usable_property(key, value):
            continue
        at = text.find(value, 0, 3000)
        if at >= 0:
            fields[key] = [at, at + len(value)]
        else:
            header.append((key, value))
    if not header:
        return text, fields, 0
    block = "".join(f"{key.capitalize()}: {value}\n" for key, value in header)
    # A blank line ends the header, unless cleaning would then read the two as one broken paragraph.
    block += "" if re.match(r"[a-z]", text) and re.search(r"[a-z,]\n$", block) else "\n"
    shift = len(block)
    fields = {key: [start + shift, end + shift] for key, (start, end) in fields.items()}
    position = 0
    for key, value in header:
        start = position + len(key) + 2
        fields[key] = [start, start + len(value)]
        position = start + len(value) + 1
    return block + text, fields, shift


def iter_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Expand folders recursively to supported files (sorted); report what is missing or unsupported."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            skipped.append(Skipped(str(path), "does not exist (check the path)"))
        elif path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not any(
                    part.startswith(".") for part in p.relative_to(path).parts
                )
            )
            if not found:
                skipped.append(Skipped(str(path), f"folder holds no {', '.join(SUPPORTED_SUFFIXES)} files"))
            files.extend(found)
        else:
            files.append(path)
    return files, skipped


def attachment_source(container: str, name: str) -> str:
    """The source of a file attached to `container` (a mail): "<mail path>#<attachment name>"."""
    return f"{container}#{name}"


def container_of(document: Document) -> str:
    """The file a document was read from: itself, or for a mail's attachment the mail."""
    return document.meta.get("container") or document.source


def load_documents(path: str | Path, *, source: str | None = None) -> LoadResult:
    """One file's documents: the file itself and, for a mail, each attachment of a supported type as a document
    of its own (source "<mail>#<name>", `meta["container"]` the mail). Raises LoadError when the file itself cannot
    be read; an attachment that cannot be read is reported in `skipped` and the mail still loads."""
    path = Path(path)
    document = load_file(path, source=source)
    result = LoadResult(documents=[document])
    if path.suffix.lower() == ".eml":
        for name, data in _mail_attachments(path):
            label = attachment_source(document.source, name)
            try:
                attached = _load_attachment(name, data, label)
            except LoadError as exc:
                result.skipped.append(Skipped(label, str(exc)))
                continue
            result.documents.append(replace(attached, meta={**attached.meta, "container": document.source,
                                                            "size_bytes": len(data),
                                                            "modified_ns": document.meta["modified_ns"]}))
    return result


def _mail_attachments(path: Path) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each attachment of a supported type; the name is reduced to its last part."""
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    found = []
    for part in message.iter_attachments():
        name = Path((part.get_filename() or "").replace("\\", "/")).name
        if name and Path(name).suffix.lower() in SUPPORTED_SUFFIXES and Path(name).suffix.lower() != ".eml":
            try:
                data = part.get_payload(decode=True) or b""
            except (ValueError, TypeError):
                continue
            found.append((name, data))
    return found


def _load_attachment(name: str, data: bytes, label: str) -> Document:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rag-attachment-") as folder:
        temporary = Path(folder) / name
        temporary.write_bytes(data)
        try:
            return load_file(temporary, source=label)
        except LoadError as exc:
            raise LoadError(exc.message.replace(str(temporary), name), hint=exc.hint) from exc


def load_paths(paths: Iterable[str | Path], *, on_file: Callable[[Path], None] | None = None) -> LoadResult:
    """Load every file under `paths` (a mail's attachments too). Bad files are skipped with a reason; the others
    still load."""
    files, skipped = iter_files(paths)
    result = LoadResult(skipped=skipped)
    for file in files:
        if on_file:
            on_file(file)
        try:
            loaded = load_documents(file)
        except LoadError as exc:
            result.skipped.append(Skipped(str(file), str(exc)))
            continue
        result.documents.extend(loaded.documents)
        result.skipped.extend(loaded.skipped)
    return result
