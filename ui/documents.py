"""The Documents side of the chat window: what is indexed, uploads (each checked, stored under a safe name and
indexed; a failure is reported on its own line and the others still go in) and removal."""

from __future__ import annotations

import hashlib
import html
import re
import shutil
from dataclasses import replace
from pathlib import Path

from rag.errors import RagError
from rag.loaders import SUPPORTED_SUFFIXES
from ui import render

MAX_UPLOAD_MB = 50


def safe_upload_name(original: str, data_hash: str) -> str:
    """A file name built from the client's name but never trusted as a path."""
    stem = Path(original.replace("\\", "/")).name
    suffix = (Path(stem).suffix or (stem if stem.startswith(".") else "")).lower()
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(stem).stem).strip("._") or "document"
    return f"{base[:80]}-{data_hash[:10]}{suffix}"


class DocumentsTab:
    """Mixed into `ui.app.ChatApp` (which gives `assistant`, `read_only` and `uploads_dir`)."""

    def documents_table(self) -> list[list]:
        if not self.assistant.has_index():
            return []
        store = self.assistant.store
        counts = store.chunk_counts()
        rows = []
        for doc in store.documents():
            size = doc.meta.get("size_bytes") or len(doc.text.encode("utf-8"))
            rows.append([render.display_name(doc), f"{size / 1024:,.1f} KB", counts.get(doc.doc_id, 0)])
        return rows

    def scope_choices(self, chosen: list | None = None):
        """The chat's document picker after the documents changed: what is still indexed stays chosen."""
        import gradio as gr

        choices = self.document_choices()
        present = {source for _, source in choices}
        return gr.update(choices=choices, value=[c for c in (chosen or []) if c in present])

    def document_choices(self) -> list[tuple[str, str]]:
        if not self.assistant.has_index():
            return []
        return [(render.display_name(d), d.source) for d in self.assistant.store.documents()]

    def documents_api(self) -> list[dict]:
        """The indexed documents: file name, size in bytes, chunks (never a path on the server)."""
        store = self.assistant.store
        counts = store.chunk_counts()
        return [
            {"name": render.display_name(d), "size_bytes": d.meta.get("size_bytes"), "chunks": counts.get(d.doc_id, 0)}
            for d in store.documents()
        ]

    def store_upload(self, temp_path: str, original_name: str) -> Path:
        """Copy an upload under the index folder with a safe name; refuse types and sizes outside the limits."""
        source = Path(temp_path)
        suffix = Path(original_name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise RagError(
                f"{original_name}: file type '{suffix or '(none)'}' is not accepted",
                hint=f"upload {', '.join(SUPPORTED_SUFFIXES)} files",
            )
        size = source.stat().st_size
        if size > MAX_UPLOAD_MB * 1024 * 1024:
            raise RagError(f"{original_name} is {size / 2**20:.0f} MB, over the {MAX_UPLOAD_MB} MB upload limit", hint="split it")
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        target = self.uploads_dir / safe_upload_name(original_name, digest)
        if not target.exists():
            shutil.copyfile(source, target)
        return target

    def upload(self, files, progress=None) -> tuple[str, list[list], object]:
        """Index uploaded files; each failure is reported on its own line and the others are still indexed."""
        import gradio as gr

        if self.read_only:
            raise gr.Error("This server is read-only: documents cannot be added here.")
        lines: list[str] = []
        stored: list[tuple[Path, str]] = []
        for item in files or []:
            temp_path = item if isinstance(item, str) else getattr(item, "name", str(item))
            original = getattr(item, "orig_name", None) or Path(temp_path).name
            try:
                stored.append((self.store_upload(temp_path, original), original))
            except (RagError, OSError) as exc:
                lines.append(f"✗ {original}: {exc}")
        if stored:
            from rag.loaders import load_documents
            from rag.errors import LoadError

            documents = []
            for path, original in stored:
                try:
                    loaded = load_documents(path)
                except LoadError as exc:
                    lines.append(f"✗ {original}: {str(exc).replace(str(path), original).replace(path.name, original)}")
                    path.unlink(missing_ok=True)
                    continue
                # The document keeps the name the person gave the file (it is stored under a safe one).
                document, attachments = loaded.documents[0], loaded.documents[1:]
                name = Path(original).name
                title = name if document.title in (path.name, path.stem) else document.title
                documents.append(replace(document, title=title, meta={**document.meta, "name": name}))
                documents.extend(attachments)
                lines.extend(f"✗ {original}, attachment {Path(s.path).name.split('#', 1)[-1]}: {s.reason}"
                             for s in loaded.skipped)
            if documents:
                def on_progress(done: int, total: int) -> None:
                    if progress is not None and total:
                        progress(done / total, desc=f"Embedding {done}/{total} chunks")

                try:
                    report = self.assistant.add_documents(documents, on_progress=on_progress)
                except RagError as exc:
                    lines.append(f"✗ indexing failed, the previous index is unchanged: {exc}")
                else:
                    names = {str(p): o for p, o in stored}
                    names.update({d.source: f"{names.get(d.meta['container'], '')} → {d.meta['name']}"
                                  for d in documents if d.meta.get("container")})
                    for source in report.added + report.replaced:
                        lines.append(f"✓ {names.get(source, Path(source).name)}: indexed")
                    for source in report.unchanged:
                        lines.append(f"✓ {names.get(source, Path(source).name)}: already indexed")
                    for source, twin in report.duplicates:
                        lines.append(f"✓ {names.get(source, Path(source).name)}: same content as {Path(twin).name}, kept once")
        # File names come from the client: shown as text, never as markup.
        status = "\n\n".join(html.escape(line, quote=False) for line in lines) or "No files received."
        return status, render.documents_table(self.documents_table()), gr.update(choices=self.document_choices(), value=None)

    def remove(self, source: str | None) -> tuple[str, list[list], object]:
        import gradio as gr

        if self.read_only:
            raise gr.Error("This server is read-only: documents cannot be removed here.")
        if not source:  # nothing chosen, or the person answered No to "Remove …?"
            return "Nothing removed.", render.documents_table(self.documents_table()), gr.update()
        try:
            removed = self.assistant.remove(source)
        except RagError as exc:
            raise gr.Error(str(exc))
        if Path(removed.source).parent == self.uploads_dir:
            Path(removed.source).unlink(missing_ok=True)
        message = f"Removed {render.escape(render.display_name(removed))}."
        return message, render.documents_table(self.documents_table()), gr.update(choices=self.document_choices(), value=None)
