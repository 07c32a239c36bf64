"""Files -> Documents. Text is decoded and cleaned here, once; every later offset refers to the cleaned text.

Supported: .txt, .md, .html/.htm, .pdf (scanned pages by OCR), .docx, .csv/.tsv, .xlsx, .pptx, .eml, .epub, and
images (.png, .jpg, .tif) by OCR. Tables (in any of them) become one
paragraph per row with each cell beside its header (`rag.tables`). `load_paths` walks folders recursively and never
lets one bad file stop the others: each file that cannot be read is reported in `LoadResult.skipped` with the reason.

One module per kind of file behind `load_file`: `text` (decoding, cleaning), `web` (text, Markdown, HTML, EPUB),
`pdf` (PDF and images, OCR), `office` (DOCX, CSV/TSV, XLSX, PPTX), `mail` (.eml), and `fields` (a document's own
title, author and date).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from rag.errors import LoadError
from rag.loaders.fields import head_fields, with_fields
from rag.loaders.mail import _read_eml, attachment_source, container_of
from rag.loaders.office import _read_csv, _read_docx, _read_pptx, _read_xlsx
from rag.loaders.pdf import _read_image, _read_pdf
from rag.loaders.text import clean_text, content_id, decode_bytes
from rag.loaders.web import _read_epub, _read_html, _read_text, html_to_text, html_to_text_and_properties
from rag.types import Document

__all__ = ["SUPPORTED_SUFFIXES", "IMAGE_SUFFIXES", "Skipped", "LoadResult", "load_file", "load_documents", "load_paths",
           "iter_files", "clean_text", "content_id", "decode_bytes", "html_to_text", "html_to_text_and_properties",
           "head_fields", "with_fields", "attachment_source", "container_of"]

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + (".pdf", ".docx") + TABLE_SUFFIXES + (".pptx", ".eml", ".epub")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")  # read by OCR (rag.ocr)
SUPPORTED_SUFFIXES += IMAGE_SUFFIXES
MAX_FILE_BYTES = 200 * 1024 * 1024

@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


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
