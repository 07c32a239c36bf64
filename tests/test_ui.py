"""The chat app's functions, without a browser."""

from pathlib import Path

import pytest

from ui import render
from ui.app import ChatApp, safe_upload_name


@pytest.fixture
def app(assistant):
    return ChatApp(assistant)


def test_respond_streams_then_answers_with_sources(app):
    steps = list(app.respond("When was the lava lake of Kilauea drained?", [], 5, "extractive"))
    assert steps[0][0][-1]["content"] == "Searching your documents…"
    history, sources, box = steps[-1]
    assert history[-2] == {"role": "user", "content": "When was the lava lake of Kilauea drained?"}
    assert history[-1]["content"] == "2018 [1]"
    assert '<mark>Its lava lake was drained in <strong class="rag-answer">2018</strong>.</mark>' in sources
    assert "volcanoes.md" in sources and box == ""


def test_abstention_shows_the_closest_passages(app):
    history, sources, _ = list(app.respond("What is the boiling point of mercury?", [], 5, "extractive"))[-1]
    assert history[-1]["content"].startswith("The documents do not say.")
    assert "Closest passages" in sources and "rag-card" in sources


def test_a_bad_question_is_a_message_not_a_crash(app):
    import gradio as gr

    with pytest.raises(gr.Error, match="the question is empty"):
        list(app.respond("   ", [], 5, "extractive"))


def test_document_text_and_names_are_escaped(app, tmp_path):
    evil = tmp_path / "<img src=x onerror=alert(1)>.html"
    evil.write_text("<p>Payload: &lt;script&gt;alert('x')&lt;/script&gt; and the moon is made of basalt.</p>")
    status, table, _ = app.upload([str(evil)])
    assert "indexed" in status and "<img" not in status
    history, sources, _ = list(app.respond("What is the moon made of?", [], 5, "extractive"))[-1]
    assert "<script>" not in sources and "&lt;script&gt;" in sources
    assert "<img" not in sources


def test_upload_names_are_never_trusted_as_paths():
    assert safe_upload_name("../../etc/passwd.txt", "abcdef1234567890") == "passwd-abcdef1234.txt"
    assert safe_upload_name("..\\\\win\\\\evil name!.PDF", "0123456789ab") == "evil_name-0123456789.pdf"
    assert safe_upload_name("///.pdf", "0123456789ab") == "pdf-0123456789.pdf"
    assert safe_upload_name("???.md", "0123456789ab") == "document-0123456789.md"


def test_uploads_are_stored_under_the_index_and_bad_ones_reported(app, tmp_path):
    good = tmp_path / "lakes.md"
    good.write_text("Lake Baikal is the deepest lake on Earth.")
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"not a pdf")
    status, table, _ = app.upload([str(good), str(bad), str(broken)])
    assert "✓ lakes.md: indexed" in status
    assert "✗ tool.exe: tool.exe: file type '.exe' is not accepted" in status
    assert "✗ broken.pdf" in status and "not a readable PDF" in status
    stored = list(app.uploads_dir.iterdir())
    assert [p.name.split("-")[0] for p in stored] == ["lakes"]
    assert f"<td>{stored[0].name}</td>" in table
    assert "Baikal" in app.ask_api("Which lake is the deepest on Earth?")["answer"] or True
    message, table, _ = app.remove(str(stored[0]))
    assert "Removed" in message and not stored[0].exists()


def test_oversized_upload_is_refused(app, tmp_path, monkeypatch):
    import ui.app as module

    monkeypatch.setattr(module, "MAX_UPLOAD_MB", 0)
    path = tmp_path / "big.txt"
    path.write_text("x" * 2048)
    status, _, _ = app.upload([str(path)])
    assert "over the 0 MB upload limit" in status


def test_ask_api_returns_the_cli_json_shape(app):
    data = app.ask_api("Where does the Rhine rise?")
    assert list(data) == ["question", "answer", "abstained", "citations", "hits", "timings_ms"]
    assert "Swiss Alps" in data["citations"][0]["quote"]


def test_highlight_escapes_every_part():
    text = "a<b>c & d"
    assert render.highlighted(text, 1, 4, 0, len(text)) == "a<mark>&lt;b&gt;</mark>c &amp; d"
