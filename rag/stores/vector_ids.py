"""FAISS ids of chunks: each chunk_id's id is the first 63 bits of its blake2b hash; `VectorIds` keeps the map back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from rag.arrays import load, text, utf8


def vector_id(chunk_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(chunk_id.encode("utf-8"), digest_size=8).digest(), "little") >> 1


class VectorIds:
    """FAISS id -> chunk_id. Read from a generation, two memory-mapped arrays — the FAISS ids sorted and the chunk
    ids (UTF-8) beside them — looked up by binary search; what changed since is held in a dict and a set."""

    def __init__(self, keys: np.ndarray | None = None, names: np.ndarray | None = None):
        self._keys = keys if keys is not None else np.zeros(0, dtype=np.int64)
        self._names = names if names is not None else np.zeros(0, dtype="S1")
        self._added: dict[int, str] = {}
        self._removed: set[int] = set()  # stored keys deleted since

    def _stored(self, key: int) -> str | None:
        if key in self._removed or not len(self._keys):
            return None
        at = int(np.searchsorted(self._keys, key))
        if at < len(self._keys) and int(self._keys[at]) == key:
            return text(self._names, at)
        return None

    def get(self, key: int) -> str | None:
        found = self._added.get(key)
        return found if found is not None else self._stored(key)

    def __contains__(self, key: int) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return len(self._keys) - len(self._removed) + len(self._added)

    def add(self, key: int, chunk_id: str) -> None:
        if self._stored(key) is not None:
            self._removed.add(key)
        self._added[key] = chunk_id

    def remove(self, key: int) -> None:
        self._added.pop(key, None)
        if self._stored(key) is not None:
            self._removed.add(key)

    def keys(self) -> np.ndarray:
        """Every live FAISS id: the stored ones still there, then those added since."""
        stored = np.asarray(self._keys)
        if self._removed:
            stored = stored[~np.isin(stored, np.fromiter(self._removed, dtype=np.int64))]
        return np.concatenate([stored, np.fromiter(self._added, dtype=np.int64, count=len(self._added))])

    def write(self, folder: Path) -> None:
        keys = self.keys()
        names = utf8(self.get(int(k)) for k in keys)
        order = np.argsort(keys, kind="stable")
        np.save(folder / "vector-ids.npy", keys[order])
        np.save(folder / "vector-chunk-ids.npy", names[order])

    @classmethod
    def read(cls, folder: Path, meta: dict) -> "VectorIds":
        if "chunk_ids" in meta:  # format 2: the chunk ids listed in vector-ids.json
            ids = cls()
            for chunk_id in meta["chunk_ids"]:
                ids.add(vector_id(chunk_id), chunk_id)
            return ids
        return cls(load(folder / "vector-ids.npy", mapped=True), load(folder / "vector-chunk-ids.npy", mapped=True))
