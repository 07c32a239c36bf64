"""Text as every offset refers to it: decoding bytes of unknown encoding, cleaning once, the content id."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Iterable

from rag.errors import LoadError


# Markdown-style backslash escapes left behind by converters ("\$500", "\_id"): the reader sees the character.
_STRAY_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$%&~|<>])")
# C0/C1 control characters other than tab and newline, plus zero-width and BOM characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
# A paragraph break inside a sentence ("some of the\n\npoorest layers"), left by web and PDF extraction.
_BROKEN_PARAGRAPH = re.compile(r"(?<=[a-z,])\n\n(?=[a-z])")


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


def _joined(blocks: Iterable[str]) -> str:
    """Blocks (paragraphs, table rows, slides) cleaned one by one and set apart by blank lines, so that a block is
    never run into the next by the repair of broken paragraphs."""
    return "\n\n".join(b for b in (clean_text(block) for block in blocks) if b)
