"""Tables as text a question can find and a citation can open at: one paragraph per row, each cell with its header.

"Country: Chile · Capital: Santiago · Population: 19.6 M" keeps a cell next to what it means, so a question about
one cell retrieves its row, the row is one sentence to cite, and nothing of the table's grid is needed to read it.
Used by every format that has tables: CSV, XLSX, DOCX, HTML (and the slides of a deck).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

SEPARATOR = " · "
_NUMBER = re.compile(r"^[\s$€£¥%+\-−.,\d()]*\d[\s$€£¥%+\-−.,\d()kKmMbB]*$")
_CELL = re.compile(r"(?P<header>[^:·\n]{1,60}?): (?P<value>.+)", re.S)  # one "Header: value" of a row


def cell_text(value) -> str:
    """A cell as one line: inner whitespace folded, None and empty as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def has_header(rows: Sequence[Sequence[str]]) -> bool:
    """Whether the first row names the columns: every cell filled, none a number, no two alike, and the table has
    rows below it. A first row of values reads better as values than as the names of the others."""
    if len(rows) < 2:
        return False
    first = [c for c in rows[0]]
    filled = [c for c in first if c]
    return (len(filled) == len(first) and len(set(filled)) == len(filled)
            and not any(is_number(c) for c in filled))


def rows_as_text(rows: Iterable[Sequence[object]], header: bool | None = None) -> list[str]:
    """Each row as "Header: value · Header: value" (empty cells left out); without a header row, the cells alone.
    `header` None decides from the first row."""
    table = [[cell_text(c) for c in row] for row in rows]
    table = [row for row in table if any(row)]
    if not table:
        return []
    width = max(len(row) for row in table)
    table = [row + [""] * (width - len(row)) for row in table]
    if header is None:
        header = has_header(table)
    if not header:
        return [SEPARATOR.join(c for c in row if c) for row in table]
    names = table[0]
    lines = []
    for row in table[1:]:
        cells = [f"{name}: {value}" if name else value for name, value in zip(names, row) if value]
        if cells:
            lines.append(SEPARATOR.join(cells))
    return lines


def is_number(value: str) -> bool:
    """A cell that is a number or an amount ("48000", "1.7 M", "+44 28 9018 0442")."""
    return _NUMBER.match(value) is not None


@dataclass(frozen=True)
class Cell:
    header: str
    value: str
    start: int  # the value's offsets in the row's text
    end: int


def row_cells(text: str) -> list[Cell] | None:
    """A row written by `rows_as_text` read back into its cells (offsets into `text`), or None when `text` is not such
    a row: at least two cells, each with its header."""
    if text.count(SEPARATOR) < 1:
        return None
    cells, at = [], 0
    for piece in text.split(SEPARATOR):
        match = _CELL.fullmatch(piece)
        if match is None:
            return None
        start = at + match.start("value")
        cells.append(Cell(match.group("header").strip(), match.group("value"), start, start + len(match.group("value"))))
        at += len(piece) + len(SEPARATOR)
    return cells if len(cells) >= 2 else None


def in_header(text: str, span: tuple[int, int]) -> bool:
    """Whether `span` of a row's text falls inside one of its headers (a header names a column: never an answer)."""
    cells = row_cells(text)
    if cells is None:
        return False
    at = 0
    for cell in cells:
        header_end = cell.start - 2  # ": " before the value
        if span[0] < header_end and span[1] > at:
            return True
        at = cell.end + len(SEPARATOR)
    return False
