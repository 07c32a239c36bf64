"""A document's own title, author and date, found in its first lines or its file's properties, kept as
field spans of the text."""

from __future__ import annotations

import re

from rag.loaders.text import clean_text


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
