"""The chat app's functions, without a browser."""

import re

import pytest

from ui import render
from tests.conftest import CORPUS
from ui.app import ChatApp
from ui.documents import safe_upload_name


@pytest.fixture
def app(assistant):
    return ChatApp(assistant)


def test_respond_streams_then_answers_with_sources(app):
    steps = list(app.respond("When was the lava lake of Kilauea drained?", [], 5, "extractive"))
    assert re.fullmatch(r"Searching your documents… \d+ s", steps[0][0][-1]["content"])
    history, sources, box = steps[-1]
    assert history[-2] == {"role": "user", "content": "When was the lava lake of Kilauea drained?"}
    assert history[-1]["content"] == "2018 [1]"
    assert '<mark>Its lava lake was drained in <strong class="rag-answer">2018</strong>.</mark>' in sources
    assert "volcanoes.md" in sources and box == ""


def test_abstention_shows_the_closest_passages(app):
    history, sources, _ = list(app.respond("What is the boiling point of mercury?", [], 5, "extractive"))[-1]
    assert history[-1]["content"].startswith("The documents do not say.")
    assert "closest passages" in sources and "rag-card" in sources
    # Nothing supports an answer, so nothing looks like support: no highlight, no score.
    assert "<mark>" not in sources and "score" not in sources


def test_a_declined_answer_off_the_chat_window_points_at_nothing_it_lacks(app):
    answer = app.assistant.ask("What is the boiling point of mercury?")
    assert answer.abstained
    text = render.answer_text(answer, sources_panel=False)
    assert "Sources" not in text and text.startswith("The documents do not say.")


@pytest.mark.parametrize("typed, said", [("   ", "the question is empty"), ("?!", "no words"),
                                          ("why " * 400, "over the limit")])
def test_a_user_mistake_is_said_beside_the_box_once_and_the_box_keeps_it(app, typed, said, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="rag.chat"):
        box, history, note = app.enqueue(typed, [{"role": "user", "content": "earlier"}])
    assert note["visible"] and said in note["value"]
    assert _unchanged(box) and _unchanged(history)  # the box keeps what was typed, the conversation stays
    logged = [r.getMessage() for r in caplog.records if r.name == "rag.chat"]
    assert len(logged) == 1 and logged[0].startswith("question refused:") and said in logged[0]
    assert not any(r.exc_info for r in caplog.records)  # one line, no traceback: a user mistake is not a server error


def _unchanged(value) -> bool:
    """gradio's skip(): the component keeps its value."""
    return value == {"__type__": "update"}


def test_a_question_sent_while_another_is_answered_waits_and_is_answered_after_it(app):
    class Request:
        session_hash = "one-tab"

    _, history, _ = app.enqueue("When was the lava lake of Kilauea drained?", [], Request())
    first = app.drain(history, 5, "extractive", True, {}, [], Request())
    shown, _, _ = next(first)  # the first answer is under way
    _, history, _ = app.enqueue("Where does the Rhine rise?", shown, Request())
    assert history[-1]["content"] == "Waiting for the answer above…"
    second = list(app.drain(history, 5, "extractive", True, {}, [], Request()))
    assert len(second) == 1 and _unchanged(second[0][0])  # the running loop will answer it
    *_, (history, sources, kept) = first
    asked = [m["content"] for m in history if m["role"] == "user"]
    assert asked == ["When was the lava lake of Kilauea drained?", "Where does the Rhine rise?"]
    answers = [m["content"] for m in history if m["role"] == "assistant"]
    assert answers[0] == "2018 [1]" and "Waiting" not in answers[1] and len(answers) == 2
    # Each answer keeps its own sources: clicking the first one shows the Kilauea passage again.
    assert sorted(kept) == ["1", "3"] and "Rhine" in sources
    assert "<mark>Its lava lake was drained in" in app.sources_of(kept, 1)
    assert "<mark>Its lava lake" not in app.sources_of(kept, 3) and "<mark>The Rhine rises" in app.sources_of(kept, 3)


def test_stop_ends_the_answer_and_drops_the_waiting_questions(app):
    class Request:
        session_hash = "stopping-tab"

    _, history, _ = app.enqueue("When was the lava lake of Kilauea drained?", [], Request())
    _, history, _ = app.enqueue("Where does the Rhine rise?", history, Request())
    answering = app.drain(history, 5, "extractive", True, {}, [], Request())
    next(answering)  # under way
    app.stop(Request())
    *_, (stopped, _, _) = answering  # the loop ends by itself, the answer marked as stopped
    assert stopped[-1]["content"].endswith("(stopped)") and "Waiting" not in str(stopped)
    assert [m["content"] for m in stopped if m["role"] == "user"] == ["When was the lava lake of Kilauea drained?"]
    assert not app._session(Request()).pending and app._session(Request()).owner is None


def test_a_new_conversation_mid_answer_leaves_the_tab_free_for_the_next_question(app):
    class Request:
        session_hash = "new-conversation-tab"

    _, history, _ = app.enqueue("When was the lava lake of Kilauea drained?", [], Request())
    abandoned = app.drain(history, 5, "extractive", True, {}, [], Request())
    next(abandoned)  # under way, then gradio cancels it: it is never resumed nor closed
    app.new_conversation(Request())
    _, history, _ = app.enqueue("Where does the Rhine rise?", [], Request())
    *_, (history, sources, _) = app.drain(history, 5, "extractive", True, {}, [], Request())
    assert [m["content"] for m in history if m["role"] == "user"] == ["Where does the Rhine rise?"]
    assert "<mark>The Rhine rises" in sources


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
    assert "<td>lakes.md</td>" in table  # the name the person gave the file, not the stored one
    data = app.ask_api("Which lake is the deepest on Earth?")
    assert not data["abstained"] and "Lake Baikal" in data["citations"][0]["quote"]
    message, table, _ = app.remove(str(stored[0]))
    assert "Removed" in message and not stored[0].exists()


def test_oversized_upload_is_refused(app, tmp_path, monkeypatch):
    import ui.documents as module

    monkeypatch.setattr(module, "MAX_UPLOAD_MB", 0)
    path = tmp_path / "big.txt"
    path.write_text("x" * 2048)
    status, _, _ = app.upload([str(path)])
    assert "over the 0 MB upload limit" in status


def test_ask_api_returns_the_cli_json_shape(app):
    data = app.ask_api("Where does the Rhine rise?")
    assert list(data) == ["question", "answer", "abstained", "citations", "hits", "timings_ms", "kind", "short"]
    assert "Swiss Alps" in data["citations"][0]["quote"]


def test_highlight_escapes_every_part():
    text = "a<b>c & d"
    assert render.highlighted(text, 1, 4, 0, len(text)) == "a<mark>&lt;b&gt;</mark>c &amp; d"


def test_the_chat_shows_markup_from_documents_as_text(app, tmp_path):
    evil = tmp_path / "lighthouse.txt"
    evil.write_text('The lighthouse keeper was <b>Marta Ruiz</b> <img src=x onerror="alert(1)"> who lit the lamp every night. '
                    "See [the log](http://example.com) for more.")
    app.upload([str(evil)])
    history, sources, _ = list(app.respond("Who lit the lamp every night at the lighthouse?", [], 5, "extractive"))[-1]
    bubble = history[-1]["content"]
    assert "<b>" not in bubble and "<img" not in bubble
    assert "&lt;b&gt;" in bubble or "Marta Ruiz" in bubble
    assert "<img" not in sources and "&lt;img src=x" in sources


def test_an_answer_keeps_its_documents_when_one_is_removed_meanwhile(app):
    assistant = app.assistant
    real = assistant.ask_stream

    def removing_meanwhile(*args, **kwargs):
        for event, value in real(*args, **kwargs):
            if event == "answer":  # an upload or removal lands between answering and rendering
                assistant.remove(value.citations[0].source)
            yield event, value

    assistant.ask_stream = removing_meanwhile
    history, sources, _ = list(app.respond("When was the lava lake of Kilauea drained?", [], 5, "extractive"))[-1]
    assert history[-1]["content"] == "2018 [1]"
    assert "Its lava lake was drained in" in sources and "volcanoes.md" in sources
    assert all("volcanoes" not in row[0] for row in app.documents_table())


def test_the_bold_short_answer_is_the_one_the_reader_chose():
    from rag.types import Answer, Citation, Document

    text = "In 2018 the island was quiet, and its lava lake was drained in 2018."
    document = Document("d1", "/x/notes.txt", "notes", text, {"name": "notes.txt"})
    chosen = text.rindex("2018")
    answer = Answer("When was the lava lake drained?", "2018", (Citation.from_document(document, 0, len(text)),), (),
                    False, answer_span=(chosen, chosen + 4), documents={"d1": document})
    panel = render.sources_panel(answer)
    assert 'drained in <strong class="rag-answer">2018</strong>.' in panel
    assert panel.count('<strong class="rag-answer">') == 2  # the card and its "open in document" view, both there


def test_listening_beyond_this_machine_needs_a_login_or_a_clear_choice():
    from rag.errors import RagError
    from ui.server import check_exposure

    with pytest.raises(RagError, match="without a login") as caught:
        check_exposure("0.0.0.0", None)
    assert "RAG_AUTH=user:password" in caught.value.hint and "--allow-anonymous" in caught.value.hint
    assert check_exposure("0.0.0.0", "alice:secret") == ("alice", "secret")
    assert check_exposure("0.0.0.0", None, allow_anonymous=True) is None
    assert check_exposure("127.0.0.1", None) is None
    with pytest.raises(RagError, match="user:password"):
        check_exposure("127.0.0.1", "alice")


def test_read_only_serves_questions_but_refuses_changes(assistant, tmp_path):
    import gradio as gr

    read_only = ChatApp(assistant, read_only=True)
    path = tmp_path / "x.txt"
    path.write_text("Something new.")
    with pytest.raises(gr.Error, match="read-only"):
        read_only.upload([str(path)])
    with pytest.raises(gr.Error, match="read-only"):
        read_only.remove(assistant.store.sources()[0])
    assert read_only.ask_api("Where does the Rhine rise?")["citations"]


def test_the_documents_api_names_files_never_server_paths(app):
    rows = app.documents_api()
    assert rows and all(set(row) == {"name", "size_bytes", "chunks"} for row in rows)
    assert all("/" not in row["name"] and "\\" not in row["name"] for row in rows)


@pytest.mark.parametrize("k", [0, 101, -3, 2.5, "5", True])
def test_the_number_of_passages_is_checked_at_the_api(app, k):
    import gradio as gr

    with pytest.raises(gr.Error, match="from 1 to 100"):
        app.ask_api("Where does the Rhine rise?", k=k)


def test_closing_the_chat_stream_stops_the_model(app):
    from rag.llm import LocalLLM
    from rag.readers.auto import AutoReader
    from rag.readers.llm import LLMReader
    from tests.test_llm import EndlessServer

    llm = LocalLLM("unused.gguf")
    llm._server = EndlessServer()
    assistant = app.assistant
    short = LLMReader(assistant.embedder, llm=llm, extractive=assistant.reader("extractive"))
    assistant._readers[("llm-explain", ())] = AutoReader(short, explain_only=True)
    steps = app.respond("When was the lava lake of Kilauea drained?", [], 5, "llm-explain")
    next(steps)  # "Searching your documents…"
    next(steps)  # the first words of the explanation
    steps.close()  # the person closed the tab
    assert llm.wait_until_free(2.0) and llm._server.sent < 100


def test_questions_and_uploads_from_many_threads_at_once(app, tmp_path):
    import threading

    errors: list[str] = []
    checked: list[bool] = []

    def ask(number: int) -> None:
        try:
            for _ in range(5):
                answer = app.assistant.ask("When was the lava lake of Kilauea drained?")
                for citation in answer.citations:
                    checked.append(answer.document(citation.doc_id).text[citation.start : citation.end] == citation.quote)
        except Exception as exc:  # recorded: any error fails the test with its message
            errors.append(f"ask {number}: {exc!r}")

    def upload(number: int) -> None:
        try:
            for turn in range(3):
                path = tmp_path / f"note-{number}-{turn}.txt"
                path.write_text(f"Note {number}.{turn}: the glacier number {number} advanced {turn} metres.")
                status, _, _ = app.upload([str(path)])
                assert "indexed" in status, status
        except Exception as exc:  # recorded as above
            errors.append(f"upload {number}: {exc!r}")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=upload, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert checked and all(checked)
    assert len(app.documents_table()) == len(CORPUS) + 6


def test_the_documents_tab_opens_another_index_location(app, tmp_path, fake_embedder):
    import gradio as gr

    from rag.assistant import Assistant, Settings
    from tests.conftest import FakeReranker

    other = tmp_path / "other"
    other.mkdir()
    (other / "lakes.txt").write_text("Lake Baikal is the deepest lake in the world.", encoding="utf-8")
    Assistant(Settings(index_dir=tmp_path / "idx2"), embedder=fake_embedder, reranker=FakeReranker()).index_paths([other])
    message, table, _ = app.open_store(str(tmp_path / "idx2"))
    assert "Answering from" in message and "lakes.txt" in table and "volcanoes" not in table
    assert "Baikal" in app.ask_api("Which lake is the deepest?")["citations"][0]["quote"]
    message, table, _ = app.open_store(f"milvus:{tmp_path / 'new.db'}")
    assert "No index at milvus:" in message and "will create it" in message
    with pytest.raises(gr.Error, match=r"does not end in \.db"):
        app.open_store("milvus:notes.txt")
    assert app.assistant.settings.location.endswith("new.db")  # a refused location changes nothing
    with pytest.raises(gr.Error, match="read-only"):
        ChatApp(app.assistant, read_only=True).open_store(str(tmp_path / "idx2"))


def test_an_empty_upload_is_reported_under_the_name_the_person_gave_it(app, tmp_path):
    empty = tmp_path / "notes.md"
    empty.write_text("")

    class Upload:  # what gradio hands over: a temporary path and the file's original name
        name = str(empty)
        orig_name = "meeting notes.md"

    status, _, _ = app.upload([Upload()])
    assert "✗ meeting notes.md:" in status and "notes-" not in status  # not the stored name


def test_rag_chat_shows_a_declined_answers_closest_passages_whole(app):
    from rag.cli import _answer_text

    answer = app.assistant.ask("What is the boiling point of mercury?")
    shown = _answer_text(answer, colour=False, paths=False)
    for hit in answer.hits[:3]:
        assert " ".join(hit.chunk.text.split()) in shown  # not cut at a width
    assert "/" not in shown.split("Closest passages:")[1].split("[")[0]  # a name, not a path


def test_words_still_being_checked_are_marked_as_a_draft(app):
    assistant = app.assistant
    real = assistant.ask_stream

    def drafting(*args, **kwargs):
        for event, value in real(*args, **kwargs):
            if event == "answer":
                yield "partial", "Kilauea drained in <b>2018</b>"
            yield event, value

    assistant.ask_stream = drafting
    steps = [history[-1]["content"] for history, _, _ in app.respond("When was the lava lake of Kilauea drained?", [], 5, "extractive")]
    draft = next(text for text in steps if text.startswith("Kilauea"))
    assert "&lt;b&gt;2018&lt;/b&gt;" in draft and draft.endswith("*Checking each sentence against its source…*")
    assert steps[-1] == "2018 [1]"  # the checked answer replaces the draft


def test_a_scanned_page_is_shown_with_the_cited_words_outlined(tmp_path):
    from PIL import Image

    from rag.types import Document
    from ui.render import page_figure

    scan = tmp_path / "scan <1>.png"
    Image.new("L", (400, 600), 255).save(scan)
    text = "north pier repairs"
    words = [[0, 5, 0, 0.1, 0.1, 0.2, 0.12], [6, 10, 0, 0.22, 0.1, 0.3, 0.12], [11, 18, 0, 0.32, 0.1, 0.45, 0.12]]
    document = Document("d1", str(scan), "scan", text, {"ocr_words": words, "pages": [(0, len(text))]})
    figure = page_figure(document, 6, 18)  # "pier repairs"
    assert figure.count('class="rag-box"') == 2 and "left:22.00%" in figure and "left:32.00%" in figure
    # The band around the cited line (0.04 to 0.18 of the page) is shown: the boxes are placed within it.
    assert "top:42.86%" in figure and "height:14.29%" in figure
    assert 'src="data:image/jpeg;base64,' in figure and "scan &lt;1&gt;.png, page 1" in figure  # the name escaped
    assert page_figure(document, 0, 0) == ""  # nothing cited on the page
    scan.unlink()
    gone = Document("d2", str(scan), "scan", text, {"ocr_words": words})
    assert page_figure(gone, 6, 18) == ""  # the file moved away: the text alone is shown
    assert page_figure(Document("d3", "notes.txt", "notes", text), 0, 5) == ""  # not a scan


def test_the_document_picker_scopes_the_chat_s_questions(app):
    class Request:
        session_hash = "scoped-tab"

    choices = app.document_choices()
    rivers = next(source for name, source in choices if name == "rivers.txt")
    _, history, _ = app.enqueue("When was the lava lake of Kilauea drained?", [], Request())
    *_, (history, sources, _) = app.drain(history, 5, "extractive", True, {}, [rivers], Request())
    assert "rivers.txt" in sources and "volcanoes.md" not in sources  # only the chosen document was searched
    update = app.scope_choices([rivers, "/gone/file.txt"])
    assert update["value"] == [rivers] and update["choices"] == choices  # a removed document leaves the choice


def test_an_uploaded_mail_brings_its_attachments_and_removing_it_removes_them(app, tmp_path):
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Pier survey"
    message.set_content("The survey is attached.\n")
    message.add_attachment("The pier survey found rust on 12 piles.\n", filename="survey.txt")
    message.add_attachment(b"%PDF-1.4 not really", maintype="application", subtype="pdf", filename="scan.pdf")
    mail = tmp_path / "pier.eml"
    mail.write_bytes(bytes(message))
    status, table, _ = app.upload([str(mail)])
    assert "✓ pier.eml: indexed" in status and "✓ pier.eml → survey.txt: indexed" in status, status
    assert "✗ pier.eml, attachment scan.pdf:" in status and "not a readable PDF" in status  # said, nothing lost
    data = app.ask_api("How many piles had rust?")
    assert data["citations"] and "12 piles" in data["citations"][0]["quote"]
    stored = next(p for p in app.uploads_dir.iterdir() if p.suffix == ".eml")
    message_text, table, _ = app.remove(str(stored))
    assert "Removed" in message_text and not any("survey" in d.source for d in app.assistant.store.documents())


def test_the_api_answers_with_the_second_stage_the_server_was_started_with(assistant):
    """/ask without `rerank` follows the server's own setting (`rag serve --no-rerank`, `--rerank-depth`): it used
    to turn the second stage on for every API call, whatever the server was started with."""
    from dataclasses import replace

    served = ChatApp(assistant.with_settings(retrieval=replace(assistant.settings.retrieval, rerank=False)))
    assert "rerank_ms" not in served.ask_api("Where does the Rhine rise?")["timings_ms"]
    assert "rerank_ms" in served.ask_api("Where does the Rhine rise?", rerank=True)["timings_ms"]


def test_answering_with_nothing_waiting_leaves_the_conversation_and_sources_as_they_were(app):
    """A refused question (empty, "?!") still runs the answering step after it: it must change nothing (a generator
    that yields nothing would set the conversation and the sources to empty)."""
    import gradio as gr

    class Request:
        session_hash = "refused"

    history = [{"role": "user", "content": "Where does the Rhine rise?"}, {"role": "assistant", "content": "In the Alps."}]
    _, unchanged, note = app.enqueue("?!", history, Request())
    steps = list(app.drain(history, 5, "extractive", True, {"1": "<p>sources</p>"}, [], Request()))
    assert steps and all(value is gr.skip() or value == gr.skip() for step in steps for value in step)
