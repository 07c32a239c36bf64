"""Word documents (in reading order, tables as rows), CSV/TSV, Excel workbooks (sheets as pages) and
PowerPoint decks (slides and notes as pages)."""

from __future__ import annotations

from pathlib import Path

from rag.errors import LoadError
from rag.loaders.text import _joined, decode_bytes
from rag.tables import rows_as_text


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
