"""How answers and passages print in a terminal."""

from __future__ import annotations

from pathlib import Path


def _snippet(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _answer_text(answer, colour: bool, *, paths: bool = True) -> str:
    """The answer, then each citation: where it is (offsets, page) and its quote with the short answer marked.
    With paths=False (the conversation) documents are named by title and file name, and the closest passages of a
    declined answer are shown whole."""

    def named(document) -> str:
        if paths:
            return document.source
        return f"{document.title} ({document.name})" if document.title and document.title != document.name else document.name

    lines = [answer.text]
    if answer.abstained:
        lines.append("Closest passages:")
        for hit in answer.hits[:3]:
            document = answer.document(hit.chunk.doc_id)
            text = " ".join(hit.chunk.text.split()) if not paths else _snippet(hit.chunk.text)
            lines.append(f"  - {named(document) if not paths else Path(document.source).name} "
                         f"[{hit.chunk.start}:{hit.chunk.end}] {text}")
    for number, citation in enumerate(answer.citations, start=1):
        document = answer.document(citation.doc_id)
        place = document.place_at(citation.start)
        lines.append(f"[{number}] {named(document)} [{citation.start}:{citation.end}]" + (f", {place}" if place else ""))
        quote = citation.quote
        span = answer.answer_span if number == 1 else None
        if span and citation.start <= span[0] < span[1] <= citation.end:
            a, b = span[0] - citation.start, span[1] - citation.start
            mark = ("\033[1;33m", "\033[0m") if colour else ("»", "«")
            quote = quote[:a] + mark[0] + quote[a:b] + mark[1] + quote[b:]
        lines.append(f'    "{quote}"')
    return "\n".join(lines)
