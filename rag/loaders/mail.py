"""Mail (.eml): headers as fields above the body; attachments of supported types as documents of their own."""

from __future__ import annotations

from pathlib import Path

from rag.errors import LoadError
from rag.loaders.text import _joined, decode_bytes
from rag.loaders.web import html_to_text
from rag.types import Document


def _read_eml(path: Path) -> tuple[str, dict[str, str], dict]:
    """A mail: its headers as fields (From, To, Date, Subject) above its body; an HTML-only body as its text."""
    from email import policy
    from email.parser import BytesParser

    try:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    except (ValueError, TypeError, IndexError) as exc:
        raise LoadError(f"{path.name} is not a readable mail: {exc}", hint="save the mail again as .eml") from exc
    heads = [f"{name}: {' '.join(str(message[name]).split())}" for name in ("From", "To", "Cc", "Date", "Subject")
             if message[name]]
    body = message.get_body(preferencelist=("plain", "html"))
    content = ""
    if body is not None:
        try:
            content = body.get_content()
        except (LookupError, ValueError):  # an unknown charset: read as bytes
            content = decode_bytes(body.get_payload(decode=True) or b"", path.name)
        if body.get_content_type() == "text/html":
            content = html_to_text(content)[0]
    attachments = [part.get_filename() for part in message.iter_attachments() if part.get_filename()]
    blocks = ["\n".join(heads), content]
    if attachments:
        blocks.append("Attachments: " + ", ".join(attachments))
    properties = {"title": " ".join(str(message["Subject"] or "").split()),
                  "author": " ".join(str(message["From"] or "").split())}
    return _joined(blocks), properties, {}


def attachment_source(container: str, name: str) -> str:
    """The source of a file attached to `container` (a mail): "<mail path>#<attachment name>"."""
    return f"{container}#{name}"


def container_of(document: Document) -> str:
    """The file a document was read from: itself, or for a mail's attachment the mail."""
    return document.meta.get("container") or document.source
