"""Plain text, Markdown, HTML (data tables as rows) and EPUB (chapters as pages)."""

from __future__ import annotations

import re
from pathlib import Path

from rag.errors import LoadError
from rag.loaders.text import _joined, decode_bytes
from rag.tables import rows_as_text


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
