"""Files -> Documents. Text is decoded and cleaned here, once; every later offset refers to the cleaned text.

Supported: .txt, .md, .html/.htm, .pdf, .docx. `load_paths` walks folders recursively and never lets one bad
file stop the others: each file that cannot be read is reported in `LoadResult.skipped` with the reason.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterable

from rag.errors import LoadError
from rag.types import Document

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + (".pdf", ".docx")
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
        return data.decode("utf-16")
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


class _VisibleText(HTMLParser):
    """Collects the text a browser would show: no tags, scripts, styles; blocks become line breaks."""

    _HIDDEN = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
    _BLOCKS = {
        "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer", "h1", "h2",
        "h3", "h4", "h5", "h6", "blockquote", "pre", "hr", "dd", "dt", "dl", "figure", "figcaption", "main",
        "nav", "aside", "address", "form", "fieldset", "td", "th",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._hidden_depth = 0
        self._in_title = False
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "pre":
            self._pre_depth += 1
        if tag == "title":
            self._in_title = True
        elif tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n" if tag not in {"br", "td", "th", "li"} else "\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag == "title":
            self._in_title = False
        elif tag in self._HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n\n" if tag not in {"td", "th", "li"} else "\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._hidden_depth:
            # Inside a block, HTML collapses runs of whitespace (newlines included) to one space.
            self.parts.append(data if self._pre_depth else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> tuple[str, str]:
    """(visible text, title) of an HTML page."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t\f\v\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(lines), " ".join("".join(parser.title_parts).split())


def _read_text(path: Path) -> tuple[str, str, dict]:
    return decode_bytes(path.read_bytes(), path.name), "", {}


def _read_html(path: Path) -> tuple[str, str, dict]:
    text, title = html_to_text(decode_bytes(path.read_bytes(), path.name))
    return text, title, {}


def _read_pdf(path: Path) -> tuple[str, str, dict]:
    """Text per page; the page spans in the cleaned text are kept in meta['pages'] so citations can name pages."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"{path.name} is an encrypted PDF", hint="remove its password and index it again")
        pages = [clean_text(page.extract_text() or "") for page in reader.pages]
        title = str((reader.metadata or {}).get("/Title") or "")
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise LoadError(f"{path.name} is not a readable PDF: {exc}", hint="check the file opens in a PDF viewer") from exc
    text, spans = "", []
    for page in pages:
        if text and page:
            text += "\n\n"
        spans.append((len(text), len(text) + len(page)))
        text += page
    if not text.strip():
        raise LoadError(f"{path.name} has no extractable text (a scanned PDF?)", hint="run OCR on it first")
    return text, title, {"pages": spans}


def _read_docx(path: Path) -> tuple[str, str, dict]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, ValueError, KeyError, OSError) as exc:
        raise LoadError(f"{path.name} is not a readable .docx file: {exc}", hint="re-save it from a word processor") from exc
    except Exception as exc:  # zipfile.BadZipFile and lxml errors have no common base
        raise LoadError(f"{path.name} is not a readable .docx file: {exc}", hint="re-save it from a word processor") from exc
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append("\t".join(cell.text for cell in row.cells))
    return "\n\n".join(b for b in blocks if b.strip()), document.core_properties.title or "", {}


_READERS: dict[str, Callable[[Path], tuple[str, str, dict]]] = {
    **{s: _read_text for s in TEXT_SUFFIXES},
    **{s: _read_html for s in HTML_SUFFIXES},
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}


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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LoadError(f"{path.name} is {size // 2**20} MB, over the {MAX_FILE_BYTES // 2**20} MB limit", hint="split it")
        raw, title, meta = reader(path)
    except PermissionError as exc:
        raise LoadError(f"{path.name} cannot be read: permission denied", hint="check the file's permissions") from exc
    except IsADirectoryError as exc:
        raise LoadError(f"{path} is a folder", hint="pass the folder itself to load everything in it") from exc
    except OSError as exc:
        raise LoadError(f"{path.name} cannot be read: {exc.strerror or exc}", hint="check the file") from exc
    # PDF pages are cleaned per page so that the page spans stay true; cleaning is idempotent.
    text = raw if suffix == ".pdf" else clean_text(raw)
    if not text:
        raise LoadError(f"{path.name} is empty", hint="add text to it or leave it out")
    resolved = source or str(path.resolve())
    return Document(
        doc_id=content_id(text),
        source=resolved,
        title=title or path.name,
        text=text,
        meta={**meta, "size_bytes": size, "name": path.name},
    )


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


def load_paths(paths: Iterable[str | Path], *, on_file: Callable[[Path], None] | None = None) -> LoadResult:
    """Load every file under `paths`. Bad files are skipped with a reason; the others still load."""
    files, skipped = iter_files(paths)
    result = LoadResult(skipped=skipped)
    for file in files:
        if on_file:
            on_file(file)
        try:
            result.documents.append(load_file(file))
        except LoadError as exc:
            result.skipped.append(Skipped(str(file), str(exc)))
    return result
