"""Questions scoped to some documents: `--source PATTERN` and `--where KEY:VALUE` on ask and chat; `sources` and
`where` in the Python API, the OpenAI endpoint and MCP. A pattern is a shell-style glob ("*.pdf", "reports/2026-*", "minutes*") matched against a
document's file name and its full source path, case-insensitively; a pattern without wildcards also matches when
it names the file or a folder the file is in. Retrieval then ranks only the scoped documents' chunks (the filter
comes before the ranking, on every store), and the auto reader's second searches stay inside them.
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import PurePath
from typing import Iterable, Sequence

from rag.errors import RagError
from rag.types import Document

_WILDCARDS = set("*?[")


def matches(document: Document, pattern: str) -> bool:
    pattern = pattern.strip().lower()
    if not pattern:
        return False
    name, source = document.name.lower(), document.source.lower()
    if pattern in (name, source):  # exactly a file name or source (the chat's picker sends sources)
        return True
    if fnmatch(name, pattern) or fnmatch(source, pattern):
        return True
    if _WILDCARDS & set(pattern):
        return fnmatch(source, f"*/{pattern}") or fnmatch(source, f"*{pattern}")
    parts = [p.lower() for p in PurePath(document.source).parts]
    return pattern.strip("/") in parts or source.endswith("/" + pattern.strip("/"))


def _listed(values: str | Sequence[str] | None) -> list[str]:
    return [values] if isinstance(values, str) else [v for v in values or () if v]


WHERE_KEYS = ("type", "folder", "title", "author", "after", "before")


def _field(document: Document, key: str) -> str:
    span = (document.meta.get("fields") or {}).get(key)
    return document.text[span[0] : span[1]] if span else ""


def _date(text: str):
    from datetime import datetime

    from dateutil import parser

    try:
        return parser.parse(text, fuzzy=True, default=datetime(2000, 1, 1)).date()
    except (ValueError, OverflowError):
        return None


def check_where(conditions: Sequence[str]) -> list[tuple[str, str]]:
    """KEY:VALUE conditions, checked before any model loads; an unknown key or a bad date says what is expected."""
    parsed = []
    for condition in conditions:
        key, _, value = condition.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key not in WHERE_KEYS or not value:
            raise RagError(f"bad --where condition {condition!r}",
                           hint="use KEY:VALUE with KEY one of " + ", ".join(WHERE_KEYS) + " (e.g. type:pdf, after:2026-01-01)")
        if key in ("after", "before") and _date(value) is None:
            raise RagError(f"{value!r} is not a date", hint="write dates as 2026-03-31")
        parsed.append((key, value))
    return parsed


def meets(document: Document, key: str, value: str) -> bool:
    """One --where condition: type (file suffix), folder (a folder the file is in), title / author (words of the
    document's own title or byline), after / before (the document's own date, from its text; a document without
    one does not meet a date condition)."""
    value_folded = value.lower()
    if key == "type":
        return PurePath(document.name).suffix.lower().lstrip(".") == value_folded.lstrip(".")
    if key == "folder":
        return value_folded.strip("/") in [p.lower() for p in PurePath(document.source).parts[:-1]] or (
            "/" in value_folded and f"/{value_folded.strip('/')}/" in document.source.lower())
    if key in ("title", "author"):
        held = (_field(document, key) or (document.title if key == "title" else "")).lower()
        return all(word in held for word in value_folded.split())
    stated = _field(document, "date")
    written = _date(stated) if stated else None
    if written is None:
        return False
    bound = _date(value)
    return written >= bound if key == "after" else written <= bound


def scoped(documents: Iterable[Document], patterns: str | Sequence[str],
           where: str | Sequence[str] = ()) -> frozenset[str] | None:
    """The doc_ids a question may use: None (every document) without patterns or conditions; an error when none
    matches, so a typo is not answered from nothing. A document is in scope when it matches any pattern (or there
    are none) and meets every --where condition. Each of `patterns` and `where` is one string or several."""
    patterns = [p for p in _listed(patterns) if p.strip()]
    conditions = check_where([w for w in _listed(where) if w.strip()])
    if not patterns and not conditions:
        return None
    documents = list(documents)
    chosen = frozenset(d.doc_id for d in documents
                       if (not patterns or any(matches(d, p) for p in patterns))
                       and all(meets(d, key, value) for key, value in conditions))
    if not chosen:
        names = ", ".join(sorted(d.name for d in documents)[:8]) + (", …" if len(documents) > 8 else "")
        asked = [repr(p) for p in patterns] + [repr(f"{k}:{v}") for k, v in conditions]
        raise RagError(f"no indexed document matches {', '.join(asked)}",
                       hint=f"name a file or a glob such as '*.pdf' (indexed: {names or 'nothing'})")
    return chosen


def scope_of(store, sources, where) -> frozenset[str] | None:
    """The doc_ids a question is limited to, or None; the documents are listed only when a scope is asked for."""
    return scoped(store.documents(), sources, where) if sources or where else None
