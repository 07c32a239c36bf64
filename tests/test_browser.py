"""The chat window in a real browser: Debian's chromium driven by Playwright, against the running app."""

import json
import os
import re
import tempfile
import statistics
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import seed_server

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
# Screenshots and figures a person can look at after a run; kept out of the repository.
ARTIFACTS = Path(os.environ.get("RAG_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "rag-test-artifacts")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running, _ = seed_server(tmp_path_factory.mktemp("ui"))
    yield running.url
    running.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server)
    page.wait_for_selector("#rag-question textarea")
    yield page
    context.close()


WAITING = r"^(Searching your documents|Reading the passages|Loading the local model|Waiting for the answer above)"


def send(page, question: str) -> None:
    page.fill("#rag-question textarea", question)
    page.click("#rag-ask")


def ask(page, question: str, timeout: int = 120_000) -> None:
    """Ask, and wait until the answer is complete: its sources are shown and nothing is waiting."""
    before = page.locator("#rag-chat .message").count()
    send(page, question)
    page.wait_for_function(
        "([n, waiting]) => { const m = document.querySelectorAll('#rag-chat .message'); const s ="
        " document.querySelector('#rag-sources'); return m.length >= n + 2 && s && s.innerText.trim().length > 0 &&"
        " !s.innerText.startsWith('Cited passages appear here') &&"
        " ![...m].some(x => new RegExp(waiting).test(x.innerText.trim())); }",
        arg=[before, WAITING], timeout=timeout,
    )
    page.wait_for_timeout(300)


def choose_reader(page, label: str) -> None:
    page.get_by_text("Settings").click()
    page.get_by_label(label).check()
    page.get_by_text("Settings").click()


def last_answer(page) -> str:
    return page.locator("#rag-chat .message").last.inner_text()


def test_ask_a_seed_question_and_see_the_highlighted_span(page):
    ask(page, "Who said America is prepared to go on offence alone if necessary?")
    assert "Pete Hegseth" in last_answer(page) and "[1]" in last_answer(page)
    mark = page.locator("#rag-sources .rag-card mark").first
    assert "Pete Hegseth" in mark.inner_text()
    assert "offence alone if necessary" in mark.inner_text()
    assert "000_1c9b86d0b000d1dd.txt" in page.locator("#rag-sources .rag-card-head").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "answer-with-highlighted-span.png"), full_page=True)


def test_open_the_source_scrolled_to_the_span(page):
    ask(page, "How many fishermen have been killed by US strikes in the Caribbean and Pacific?")
    page.locator("#rag-sources details.rag-open summary").first.click()
    viewer = page.locator("#rag-sources details.rag-open .rag-doc").first
    viewer.wait_for(state="visible")
    page.wait_for_timeout(300)
    scrolled = viewer.evaluate("v => v.scrollTop")
    assert scrolled > 0  # the span sits deep in the document
    in_view = viewer.evaluate(
        "v => { const m = v.querySelector('mark').getBoundingClientRect(); const r = v.getBoundingClientRect();"
        " return m.top >= r.top && m.bottom <= r.bottom + m.height; }"
    )
    assert in_view
    assert "152" in viewer.locator("mark").inner_text()
    assert viewer.inner_text().startswith("Venezuela and US reestablish")  # the whole document is there
    page.screenshot(path=str(ARTIFACTS / "source-opened-at-span.png"), full_page=True)


def test_upload_a_document_and_get_an_answer_from_it(page, tmp_path):
    doc = tmp_path / "glaciers.md"
    doc.write_text("# Glaciers\n\nThe Perito Moreno glacier in Patagonia advances about two metres a day.\n")
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#rag-upload input[type=file]", [str(doc)])
    page.wait_for_function("() => document.querySelector('#rag-upload-status')?.innerText.includes('indexed')", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "documents-after-upload.png"), full_page=True)
    page.wait_for_function("() => document.querySelector('#rag-documents')?.innerText.includes('glaciers')", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "documents-after-upload.png"), full_page=True)
    page.get_by_role("tab", name="Chat").click()
    ask(page, "How far does the Perito Moreno glacier advance each day?")
    assert "two metres" in last_answer(page)
    assert "glaciers" in page.locator("#rag-sources .rag-card-head").first.inner_text()


def test_a_scanned_letter_is_answered_and_its_citation_shown_on_the_page(page, tmp_path):
    from rag.ocr_bench import PageStyle, render_page

    scan = tmp_path / "harbour letter.png"
    render_page("The harbour board met on Tuesday.\n\nThe board agreed to repair the north pier before the "
                "winter storms, at a cost of 41,500 pounds.", PageStyle("DejaVuSerif.ttf", 12.0, 0.6, 0.01)).save(scan)
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#rag-upload input[type=file]", [str(scan)])
    page.wait_for_function("() => document.querySelector('#rag-upload-status')?.innerText.includes('indexed')",
                           timeout=120_000)
    page.get_by_role("tab", name="Chat").click()
    ask(page, "How much will the north pier repair cost?")
    assert "41,500" in last_answer(page)
    head = page.locator("#rag-sources .rag-card-head").first.inner_text()
    assert "harbour letter.png" in head and "page 1" in head
    page.locator("#rag-sources details.rag-open summary").first.click()
    figure = page.locator("#rag-sources details.rag-open .rag-page").first
    figure.wait_for(state="visible")
    image = figure.locator("img")
    assert image.evaluate("i => i.complete && i.naturalWidth > 0")  # the page image itself
    boxes = figure.locator(".rag-box")
    assert boxes.count() >= 3
    # Every outline lies on the image (the band of the page around the cited lines).
    frame = figure.locator(".rag-page-frame").bounding_box()
    for n in range(boxes.count()):
        box = boxes.nth(n).bounding_box()
        assert box["width"] > 2 and frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        assert frame["y"] <= box["y"] and box["y"] + box["height"] <= frame["y"] + frame["height"] + 1
    figure.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "scanned-citation-on-its-page.png"), full_page=True)


def test_a_document_with_markup_runs_nothing(page, tmp_path):
    payload = (
        "Security note about the quokka. <script>window.__pwned = 1; alert('script ran')</script> "
        "The quokka lives on Rottnest Island <img src=x onerror=\"window.__pwned = 2; alert('img ran')\">.\n"
    )
    doc = tmp_path / "quokka <b>bold<b>.txt"
    doc.write_text(payload)
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#rag-upload input[type=file]", [str(doc)])
    page.wait_for_function("() => document.querySelector('#rag-upload-status')?.innerText.includes('indexed')", timeout=60_000)
    page.get_by_role("tab", name="Chat").click()
    ask(page, "Where does the quokka live?")
    sources = page.locator("#rag-sources")
    assert "Rottnest Island" in last_answer(page) + sources.inner_text()
    assert "<script>" in sources.inner_text()  # shown as text
    heading = sources.locator(".rag-card-head").first.inner_text()
    assert "quokka" in heading and not re.search(r"-[0-9a-f]{10}\.txt", heading)  # the person's name, not the stored one
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#rag-sources script, #rag-sources img, #rag-sources b").count() == 0
    assert page.dialogs == []
    page.screenshot(path=str(ARTIFACTS / "markup-shown-as-text.png"), full_page=True)


def test_markup_in_an_answer_shows_as_characters_in_the_chat(page, tmp_path):
    doc = tmp_path / "lighthouse.txt"
    doc.write_text(
        "The lighthouse keeper was <b>Marta Ruiz</b> <img src=x onerror=\"window.__pwned = 3; alert('img ran')\"> "
        "who lit the lamp every night. <script>window.__pwned = 4</script> Her log is at "
        "[the harbour office](http://127.0.0.1:9/log).\n"
    )
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#rag-upload input[type=file]", [str(doc)])
    page.wait_for_function("() => document.querySelector('#rag-upload-status')?.innerText.includes('indexed')", timeout=60_000)
    page.get_by_role("tab", name="Chat").click()
    ask(page, "What happened every night at the lighthouse?")
    bubble = page.locator("#rag-chat .message").last
    shown = bubble.inner_text()
    assert "<b>Marta Ruiz</b>" in shown and "<img src=x" in shown  # the source's own characters, verbatim
    assert bubble.locator("b, img, script, a").count() == 0  # nothing of it became markup
    sources = page.locator("#rag-sources")
    assert "<b>Marta Ruiz</b>" in sources.inner_text()
    assert sources.locator("b, img, script, a[href*='harbour']").count() == 0
    assert page.evaluate("() => window.__pwned") is None and page.dialogs == []
    page.screenshot(path=str(ARTIFACTS / "answer-markup-as-text.png"), full_page=True)


def test_eight_concurrent_api_clients_get_their_own_answers(server):
    from gradio_client import Client

    cases = [
        ("Who said America is prepared to go on offence alone if necessary?", "Pete Hegseth"),
        ("How many fishermen have been killed by US strikes in the Caribbean and Pacific?", "152"),
        ("Which oil major did Rodríguez sign a deal with?", "Shell"),
        ("Through which country was the money from the first oil sales routed?", "Qatar"),
        ("Who commands SOUTHCOM?", "Francis Donovan"),
        ("Which Venezuelan refiner in the US is facing auction?", "Citgo"),
        ("Who leads the CIA-financed opposition?", "Maria Corina Machado"),
        ("In which year were relations between the two countries broken off?", "2019"),
    ]
    results: dict[int, tuple[dict | None, float, str]] = {}

    def one(number: int, question: str) -> None:
        started = time.perf_counter()
        try:
            client = Client(server, verbose=False)
            data = client.predict(question, 5, "extractive", api_name="/ask")
            results[number] = (data, time.perf_counter() - started, "")
        except Exception as exc:  # recorded and asserted below, with the question that failed
            results[number] = (None, time.perf_counter() - started, repr(exc))

    threads = [threading.Thread(target=one, args=(n, q)) for n, (q, _) in enumerate(cases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    errors = {cases[n][0]: err for n, (_, _, err) in results.items() if err}
    assert not errors and len(results) == len(cases)
    for number, (question, expected) in enumerate(cases):
        data = results[number][0]
        assert data["question"] == question
        assert any(expected in c["quote"] for c in data["citations"]), (question, data["answer"])
    seconds = sorted(r[1] for r in results.values())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "concurrency.json").write_text(json.dumps({
        "clients": len(cases), "questions": len(cases), "errors": len(errors),
        "median_s": round(statistics.median(seconds), 3),
        "p95_s": round(seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))], 3),
    }, indent=2))


QATAR = "Through which country was the money from the first oil sales routed?"
HEGSETH = "Who said America is prepared to go on offence alone if necessary?"


def conversation(page) -> list[str]:
    """Each message's text once (gradio nests an element of the same class inside each message)."""
    texts = [t.strip() for t in page.locator("#rag-chat .message").all_inner_texts()]
    return [t for i, t in enumerate(texts) if i == 0 or t != texts[i - 1]]


def _sources_open_at_their_spans(page, seed_text: str) -> int:
    """Every cited card's highlight is the document's text at the card's offsets; returns how many were checked."""
    cards = page.locator("#rag-sources .rag-card:not(.rag-passage)")
    for number in range(cards.count()):
        card = cards.nth(number)
        start, end = map(int, re.search(r"characters (\d+)–(\d+)", card.locator(".rag-card-head").inner_text()).groups())
        assert " ".join(card.locator(".rag-context mark").inner_text().split()) == " ".join(seed_text[start:end].split())
    return cards.count()


KIND_QUESTIONS = [  # (kind, question, what a person must see in the answer)
    ("fact", "Who signed a deal with Shell?", r"Rodríguez"),
    ("list", "What minerals are found in Venezuela?", r"rare earths.*niobium|niobium.*rare earths"),
    ("yes/no", "Did the US restore diplomatic ties with Venezuela?", r"^Yes\b"),
    ("reason", "Why did the Chavistas begin major cuts?", r"commodity boom"),
    ("description", "Who is Delcy Rodríguez?", r"(acting|vice) president"),
    ("overview", "What is this article about?", r"\[1\].*\[2\]"),
    ("comparison", "Which company signed a deal with Rodríguez, Shell or Exxon Mobil?", r"^Shell\b"),
    ("two-step", "Who is the wife of the president who was abducted in the January 3 assault?", r"Cilia Flores"),
]


def test_one_question_of_each_kind_answered_in_its_shape_with_citations_at_their_spans(page):
    from rag.paths import SEED_CORPUS

    from rag.loaders import load_file

    seed_text = load_file(next(SEED_CORPUS.glob("*.txt"))).text
    choose_reader(page, "Automatic: shaped by the question (lists, yes/no, reasons, overviews)")
    for kind, question, expected in KIND_QUESTIONS:
        ask(page, question, timeout=180_000)
        answer = last_answer(page)
        assert re.search(expected, answer, re.S), (kind, answer)
        assert "[1]" in answer and answer.strip() not in ("[1]", "[1] [2]")  # never markers alone
        assert _sources_open_at_their_spans(page, seed_text) >= 1, kind
        page.screenshot(path=str(ARTIFACTS / f"kind-{kind.replace('/', '')}.png"), full_page=True)
    page.locator("#rag-sources details.rag-open summary").first.click()
    assert page.locator("#rag-sources details.rag-open .rag-doc mark").first.is_visible()


def test_a_question_sent_while_one_is_answered_is_answered_after_it(page):
    choose_reader(page, "Automatic: shaped by the question (lists, yes/no, reasons, overviews)")
    send(page, "Why did the Chavistas begin major cuts?")
    page.wait_for_timeout(500)  # the first answer is under way
    ask(page, QATAR, timeout=180_000)
    page.screenshot(path=str(ARTIFACTS / "second-question-answered-after-the-first.png"), full_page=True)
    messages = conversation(page)
    assert messages[0::2] == ["Why did the Chavistas begin major cuts?", QATAR], messages
    assert len(messages) == 4 and "Qatar" in messages[3] and "commodity boom" in messages[1]
    assert not any(re.match(WAITING, m) for m in messages)


def test_an_empty_ask_says_so_beside_the_box_once_and_the_box_stays_usable(page):
    page.click("#rag-ask")
    note = page.locator("#rag-question-error")
    note.wait_for(state="visible")
    assert "the question is empty" in note.inner_text()
    page.wait_for_timeout(500)
    assert page.locator(".toast-body, [data-testid='toast-body']").count() == 0  # no red Error labels over the page
    page.screenshot(path=str(ARTIFACTS / "empty-question-inline.png"), full_page=True)
    ask(page, HEGSETH)
    assert "Pete Hegseth" in last_answer(page) and not note.is_visible()


def test_a_refused_question_after_a_conversation_leaves_it_and_its_sources_as_they_were(page):
    ask(page, HEGSETH)
    messages = page.locator("#rag-chat .message").count()
    sources = page.locator("#rag-sources").inner_text()
    for typed in ("", "?!"):
        send(page, typed)
        page.locator("#rag-question-error").wait_for(state="visible")
        page.wait_for_timeout(1500)  # what followed the refusal has run
        assert page.locator("#rag-chat .message").count() == messages
        assert page.locator("#rag-sources").inner_text() == sources


def test_stop_ends_a_long_answer(page):
    choose_reader(page, "Local LLM: short explanation")
    send(page, "Why did the Chavistas begin major cuts?")
    page.wait_for_function(  # under way: the answer has begun (past "Waiting for the answer above")
        "() => { const m = document.querySelectorAll('#rag-chat .message');"
        " return m.length >= 2 && !m[m.length - 1].innerText.startsWith('Waiting'); }", timeout=60_000)
    page.click("#rag-stop")
    page.wait_for_function(
        "() => { const m = document.querySelectorAll('#rag-chat .message');"
        " return m.length > 0 && m[m.length - 1].innerText.includes('(stopped)'); }", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "stopped.png"), full_page=True)
    assert conversation(page)[1] == "(stopped)" or conversation(page)[1].endswith(" (stopped)")
    page.wait_for_timeout(1500)
    assert conversation(page)[1].endswith("(stopped)")  # nothing written after the stop
    choose_reader(page, "Extractive: fast, quotes the source")
    ask(page, HEGSETH)  # the box and the server are free for the next question
    assert "Pete Hegseth" in last_answer(page)


def test_an_earlier_answer_shows_its_own_sources_on_click_and_sources_carry_titles(page):
    ask(page, HEGSETH)
    ask(page, QATAR)
    assert "Qatar" in page.locator("#rag-sources mark").first.inner_text()
    head = page.locator("#rag-sources .rag-card-head").first.inner_text()
    assert head.startswith("[1] Venezuela and US reestablish diplomatic relations") and "000_1c9b86d0b000d1dd.txt" in head
    page.locator("#rag-chat .message").filter(has_text="Pete Hegseth").last.click()
    page.wait_for_function("() => document.querySelector('#rag-sources mark')?.innerText.includes('Hegseth')", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "earlier-answer-sources.png"), full_page=True)
    corpus = page.locator("#rag-corpus").inner_text()  # other tests of this module upload documents too
    assert re.match(r"Searching \d+ documents? \(\d+ passages\): Venezuela and US reestablish", corpus)
    page.click("#rag-to-documents")
    page.locator("#rag-documents").wait_for(state="visible")  # the link leads to the list of documents


def test_a_declined_answer_shows_passages_plainly(page):
    ask(page, "What is the boiling point of mercury?")
    sources = page.locator("#rag-sources")
    assert "closest passages" in sources.inner_text()
    assert sources.locator("mark").count() == 0 and "score" not in sources.inner_text()
    page.screenshot(path=str(ARTIFACTS / "declined.png"), full_page=True)


def test_remove_asks_first_and_a_no_removes_nothing(page):
    page.get_by_role("tab", name="Documents").click()
    page.locator("#rag-remove-choice input").click()
    page.get_by_role("option").first.click()
    page.click("#rag-remove")
    page.wait_for_function("() => document.querySelector('#rag-upload-status')?.innerText.includes('Nothing removed')",
                           timeout=10_000)
    assert page.dialogs == ["Remove this document from the index?"]  # asked, and the person said no (dismissed)
    assert "000_1c9b86d0b000d1dd.txt" in page.locator("#rag-documents").inner_text()
