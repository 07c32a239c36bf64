"""A folder kept in step with the index: `rag index DIR --watch`, `rag serve --watch DIR`.

On start, everything that changed while nothing was watching is caught up (`Assistant.sync`); then each burst of
file events (watchfiles, debounced) syncs again through the same write lock and commit as `rag index`, so an
answer never sees half an update.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Sequence

from rag.errors import RagError

DEBOUNCE_MS = 300  # events this close together are one change (an editor's save writes several)


def folder_changes(store, folders: Sequence[str | Path], *, on_file: Callable[[Path], None] | None = None):
    """What changed in `folders` since `store` indexed them: (documents to index — files added, or changed since, read
    again only when their size or modification time changed, with a mail's attachments —, sources indexed from the
    folders whose files are gone, files skipped with their reasons). Documents from elsewhere are left alone."""
    from rag.errors import LoadError
    from rag.loaders import Skipped, container_of, iter_files, load_documents

    roots = [Path(f).expanduser().resolve() for f in folders]
    files, skipped = iter_files(roots)
    known = {doc.source: doc for doc in store.documents() if any(_inside(container_of(doc), root) for root in roots)}
    attached: dict[str, list[str]] = {}
    for source, doc in known.items():
        if container_of(doc) != source:
            attached.setdefault(container_of(doc), []).append(source)
    documents, present = [], set()
    for file in files:
        source = str(file.resolve())
        present.add(source)
        stat, old = file.stat(), known.get(source)
        if old is not None and old.meta.get("size_bytes") == stat.st_size and old.meta.get("modified_ns") == stat.st_mtime_ns:
            present.update(attached.get(source, ()))
            continue  # unchanged since it was indexed: not read again
        if on_file:
            on_file(file)
        try:
            loaded = load_documents(file)
        except LoadError as exc:
            skipped.append(Skipped(source, str(exc)))
            continue
        documents.extend(loaded.documents)
        skipped.extend(loaded.skipped)
        present.update(doc.source for doc in loaded.documents)
    return documents, [source for source in known if source not in present], skipped


def _inside(source: str, root: Path) -> bool:
    try:
        return Path(source).is_relative_to(root)
    except (TypeError, ValueError):
        return False


def _relevant(change, path: str) -> bool:
    from rag.loaders import SUPPORTED_SUFFIXES

    name = Path(path).name
    return not name.startswith(".") and Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def watch(assistant, folders: Sequence[str | Path], *, on_sync: Callable[[object, list], None],
          on_error: Callable[[Exception], None] | None = None, stop: threading.Event | None = None) -> None:
    """Sync now, then after every change under `folders`, until `stop` is set (or Ctrl-C)."""
    import watchfiles

    roots = [str(Path(f).expanduser().resolve()) for f in folders]
    for root in roots:
        if not Path(root).is_dir():
            raise RagError(f"{root} is not a folder", hint="--watch takes folders; index single files with rag index")

    def sync() -> None:
        try:
            on_sync(*assistant.sync(roots))
        except RagError as exc:  # a failed sync leaves the previous index live; the next change tries again
            if on_error is None:
                raise
            on_error(exc)

    sync()
    for _ in watchfiles.watch(*roots, watch_filter=_relevant, debounce=DEBOUNCE_MS, step=50, stop_event=stop,
                              raise_interrupt=False, rust_timeout=1000, yield_on_timeout=False):
        sync()


def watch_in_background(assistant, folders: Sequence[str | Path], *, log: Callable[[str], None]) -> threading.Event:
    """The watch loop on a daemon thread (for the server); set the returned event to stop it."""
    stop = threading.Event()

    def on_sync(report, skipped) -> None:
        if report.changed:
            log(f"watch: {len(report.added)} added, {len(report.replaced)} updated, {len(report.removed)} removed")
        for item in skipped:
            log(f"watch: skipped {item.path}: {item.reason}")

    thread = threading.Thread(target=watch, args=(assistant, folders), daemon=True, name="rag-watch",
                              kwargs={"on_sync": on_sync, "on_error": lambda exc: log(f"watch: {exc}"), "stop": stop})
    thread.start()
    return stop
