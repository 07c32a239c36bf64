"""Reading .npy files safely from several threads.

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
