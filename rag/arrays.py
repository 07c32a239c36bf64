"""Arrays the stores keep on disk: .npy files read safely from several threads, and strings as one UTF-8 array.

numpy parses an .npy header with `ast.literal_eval`, and CPython 3.11 fails when two threads build an AST at once
(SystemError "AST constructor recursion depth mismatch"): a chat server that reopens an index after a commit while
another thread opens it too would hit it. Every .npy read of the program — ours and bm25s's — goes through
`READING`, held only while headers are parsed and files mapped (cheap: nothing is read into memory).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

READING = threading.RLock()


def load(path: str | Path, *, mapped: bool = False) -> np.ndarray:
    """np.load under the lock; `mapped` memory-maps the array read-only."""
    with READING:
        return np.load(path, mmap_mode="r" if mapped else None)


def utf8(values) -> np.ndarray:
    """Strings as one array of UTF-8 bytes (a fixed-width numpy "S" array): a list of strings costs about 60 bytes
    of objects a string, this only its characters."""
    values = list(values)
    return np.array([v.encode("utf-8") for v in values], dtype=bytes) if values else np.zeros(0, dtype="S1")


def text(array: np.ndarray, row: int) -> str:
    """The string at `row` of a `utf8` array."""
    return bytes(array[row]).decode("utf-8")


class Texts:
    """A read-only sequence of the strings in a `utf8` array, each decoded when it is read."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, row: int) -> str:
        return text(self.array, row)
