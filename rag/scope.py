"""Questions scoped to some documents: `--source PATTERN` on ask, chat and eval; `sources` in the Python API, the
OpenAI endpoint and MCP. A pattern is a shell-style glob ("*.pdf", "reports/2026-*", "minutes*") matched against a
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
    return pattern == name or pattern.strip("/") in parts or source.endswith("/" + pattern.strip("/"))


def scoped(documents: Iterable[Document], patterns: Sequence[str]) -> frozenset[str] | None:
    """The doc_ids a question may use: None (every document) without patterns; an error when none matches, so a
    typo is not answered from nothing."""
    patterns = [p for p in patterns if p and p.strip()]
    if not patterns:
        return None
    documents = list(documents)
    chosen = frozenset(d.doc_id for d in documents if any(matches(d, p) for p in patterns))
    if not chosen:
        names = ", ".join(sorted(d.name for d in documents)[:8]) + (", …" if len(documents) > 8 else "")
        raise RagError(f"no indexed document matches {', '.join(repr(p) for p in patterns)}",
                       hint=f"name a file or a glob such as '*.pdf' (indexed: {names or 'nothing'})")
    return chosen
