import json
import subprocess
import sys

import pytest

from rag import cli
from tests.conftest import FakeEmbedder


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    """The CLI builds its own Embedder; give it the fake one."""
    import rag.embedding

    monkeypatch.setattr(rag.embedding, "Embedder", lambda *a, **k: FakeEmbedder())


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_is_instant_and_imports_nothing_heavy():
    probe = ("import sys, rag.cli; code = rag.cli.main(['--help']); "
             "print(code, sorted(m for m in ('torch','numpy','faiss','gradio','sentence_transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "Commands:" in result.stdout and result.stdout.strip().endswith("0 []")


def test_index_ask_remove_list(tmp_path, corpus_dir, capsys):
    index = str(tmp_path / "idx")
    code, out, _ = run(capsys, "index", str(corpus_dir), "--index", index)
    assert code == 0 and "2 added" in out
    code, out, _ = run(capsys, "index", str(corpus_dir), "--index", index)
    assert code == 0 and "2 unchanged, 0 chunks embedded" in out

    code, out, _ = run(capsys, "ask", "Where does the Rhine rise?", "--index", index, "--json")
    data = json.loads(out)
    assert code == 0 and not data["abstained"]
    quote = data["citations"][0]["quote"]
    assert "Swiss Alps" in quote
    text = (corpus_dir / "rivers.txt").read_text()
    assert text[data["citations"][0]["start"] : data["citations"][0]["end"]] == quote

    code, out, _ = run(capsys, "ask", "Where does the Rhine rise?", "--index", index)
    assert code == 0 and "[1] " in out and "rivers.txt [" in out

    code, out, _ = run(capsys, "ask", "Where does the Rhine rise?", "--index", index, "--source", "*.md", "--json")
    assert code == 0 and {h["source"].rsplit("/", 1)[1] for h in json.loads(out)["hits"]} == {"volcanoes.md"}
    code, _, err = run(capsys, "ask", "Where does the Rhine rise?", "--index", index, "--source", "memo.txt")
    assert code != 0 and "no indexed document matches 'memo.txt'" in err
    code, out, _ = run(capsys, "ask", "Where does the Rhine rise?", "--index", index, "--where", "type:txt", "--json")
    assert code == 0 and {h["source"].rsplit("/", 1)[1] for h in json.loads(out)["hits"]} == {"rivers.txt"}
    code, _, err = run(capsys, "ask", "Where does the Rhine rise?", "--index", index, "--where", "colour:red")
    assert code != 0 and "bad --where condition" in err

    code, out, _ = run(capsys, "list", "--index", index, "--json")
    assert sorted(r["source"].rsplit("/", 1)[1] for r in json.loads(out)) == ["rivers.txt", "volcanoes.md"]
    code, out, _ = run(capsys, "remove", "rivers.txt", "--index", index)
    assert code == 0 and "Removed" in out
    code, out, _ = run(capsys, "list", "--index", index, "--json")
    assert [r["source"].rsplit("/", 1)[1] for r in json.loads(out)] == ["volcanoes.md"]


def test_a_bad_file_is_reported_and_the_others_indexed(tmp_path, corpus_dir, capsys):
    (corpus_dir / "junk.pdf").write_bytes(b"not a pdf")
    code, out, err = run(capsys, "index", str(corpus_dir), "--index", str(tmp_path / "idx"))
    assert code == cli.EXIT_PARTIAL
    assert "2 added" in out
    assert "warning: skipped" in err and "junk.pdf" in err and "not a readable PDF" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ask", "   "], "the question is empty"),
        (["ask", "x" * 5000], "over the limit"),
        (["index", "/no/such/path"], "does not exist"),
        (["remove", "nothing.txt"], "no index in"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(tmp_path, capsys, argv, message):
    code, out, err = run(capsys, *argv, "--index", str(tmp_path / "idx"))
    assert code == cli.EXIT_ERROR
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_empty_folder_and_binary_file(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "index", str(tmp_path / "empty"), "--index", str(tmp_path / "idx"))
    assert code == cli.EXIT_ERROR and "holds no" in err
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 4)
    code, _, err = run(capsys, "index", str(tmp_path / "blob.txt"), "--index", str(tmp_path / "idx"))
    assert code == cli.EXIT_ERROR and "binary" in err


def test_an_index_from_another_embedder_is_refused(tmp_path, corpus_dir, capsys, monkeypatch):
    index = str(tmp_path / "idx")
    run(capsys, "index", str(corpus_dir), "--index", index)
    other = FakeEmbedder()
    other.model_id = "other/model"
    import rag.embedding

    monkeypatch.setattr(rag.embedding, "Embedder", lambda *a, **k: other)
    code, _, err = run(capsys, "ask", "Where does the Rhine rise?", "--index", index)
    assert code == cli.EXIT_ERROR and "built with embedder fake/hash-embedder" in err
    # Nothing was lost: the index still answers with its own embedder.
    monkeypatch.setattr(rag.embedding, "Embedder", lambda *a, **k: FakeEmbedder())
    code, out, _ = run(capsys, "ask", "Where does the Rhine rise?", "--index", index)
    assert code == 0 and "Swiss Alps" in out


def test_default_index_is_built_from_the_seed_corpus_on_first_use(capsys):
    code, out, err = run(capsys, "list", "--json")
    assert code == 0 and "Indexing the seed corpus" in err
    assert [r["source"].rsplit("/", 2)[-2] for r in json.loads(out)] == ["seeds"]


def test_a_named_store_without_an_index_is_never_filled_with_the_seed_corpus(tmp_path, capsys, monkeypatch):
    from rag import cli

    monkeypatch.setattr("rag.assistant.Assistant.ensure_seed_index",
                        lambda self, **kw: pytest.fail("the seed corpus was indexed into a named store"))
    assert cli.main(["list", "--store", f"milvus:{tmp_path / 'empty.db'}"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "No documents indexed in milvus:" in out.err


def test_remove_names_the_store_it_removed_from(tmp_path, corpus_dir, capsys):
    location = f"milvus:{tmp_path / 'notes.db'}"
    assert run(capsys, "index", str(corpus_dir), "--store", location)[0] == 0
    code, out, _ = run(capsys, "remove", "rivers.txt", "--store", location)
    assert code == 0 and out.strip().endswith(f"from {location}.")
    assert str(tmp_path / "notes.db") + "." not in out.replace(location, "")  # no folder path beside it


def test_every_surface_offers_the_readers_registered_once():
    import typing

    from rag.settings import ReaderName
    from rag.readers import CHAT_READERS, READERS
    from ui import app, mcp_tools, openai_api

    assert set(typing.get_args(ReaderName)) == set(READERS)
    reader = next(p for p in cli.cli.commands["ask"].params if p.name == "reader")
    assert list(reader.type.choices) == list(READERS)
    assert [value for _, value in app.READER_CHOICES] == list(CHAT_READERS)
    assert list(openai_api.MODELS.values()) == list(CHAT_READERS)
    tool = next(t for t in mcp_tools.build(lambda: None)._tool_manager.list_tools() if t.name == "ask")
    assert tool.parameters["properties"]["reader"]["enum"] == list(CHAT_READERS)


def test_bench_is_a_group_each_benchmark_with_its_own_options(capsys):
    assert cli.main(["bench", "--help"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("pipeline", "scale", "load", "ocr", "watch", "files"))
    assert cli.main(["bench", "scale", "--help"]) == 0
    scale = capsys.readouterr().out
    assert "--replace-chunks" in scale and "--clients" not in scale and "--docs" not in scale
    assert cli.main(["bench", "load", "--sizes", "10"]) == 2  # another benchmark's option: a usage error
    assert "No such option '--sizes'" in capsys.readouterr().err


def test_a_usage_error_names_the_problem_and_the_choices(capsys):
    assert cli.main(["ask", "Where?", "--reader", "oracle"]) == 2
    err = capsys.readouterr().err
    assert "'oracle' is not one of" in err and "extractive" in err and "Usage: rag ask" in err


def test_the_second_stage_depth_is_an_option_of_every_answering_command(capsys):
    from types import SimpleNamespace

    from rag.cli import _settings
    from rag.cli.benching import _second_stage_options

    for command in ("ask", "chat", "serve", "eval"):
        assert cli.main([command, "--help"]) == 0 and "--rerank-depth" in capsys.readouterr().out
    assert cli.main(["ask", "Where?", "--rerank-depth", "0"]) == 2  # out of range: a usage error naming it
    assert "--rerank-depth" in capsys.readouterr().err
    settings = _settings(SimpleNamespace(rerank=None, rerank_depth=3, retrieval=None))
    assert settings.retrieval.rerank and settings.retrieval.rerank_depth == 3
    # `rag bench load` starts its server with the same options, so a load run measures what it names
    assert _second_stage_options(SimpleNamespace(rerank=False, rerank_depth=3)) == ["--no-rerank", "--rerank-depth", "3"]
