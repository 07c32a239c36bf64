"""One exception family. Each message says what was wrong; `hint` says what to do about it.

The library raises these; the CLI and the UI turn them into one-line messages.
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error the library raises on purpose."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class QuestionError(RagError):
    """The question cannot be asked as given (empty, too long)."""


class LoadError(RagError):
    """A file or folder cannot be read as a document."""


class ChunkingError(RagError):
    """Chunking settings are invalid."""


class OffsetError(RagError):
    """An offset does not point into the text it claims to (a bug, never the user's fault)."""


class ModelNotFoundError(RagError):
    """A model cannot be found offline."""


class IndexError_(RagError):
    """Base of index problems (named with a trailing underscore to leave the builtin alone)."""


class IndexNotFoundError(IndexError_):
    """No index exists where one was expected."""


class IndexMismatchError(IndexError_):
    """The index was built with another embedder, dimension or format."""


class IndexCorruptError(IndexError_):
    """An index file is missing, truncated or unreadable."""


class IndexBusyError(IndexError_):
    """Another process is writing the index."""


class EvaluationError(RagError):
    """An evaluation data file is malformed."""


class IndexRecoveredWarning(UserWarning):
    """The live generation of an index failed its checks and an earlier one was loaded instead."""
