"""The chat window in a real browser: Debian's chromium driven by Playwright, against the running app."""

import json
import shutil
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
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


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


def ask(page, question: str) -> None:
    before = page.locator("#rag-chat .message").count() if page.locator("#rag-chat .message").count() else 0
    page.fill("#rag-question textarea", question)
    page.click("#rag-ask")
    page.wait_for_function(
        "(n) => { const m = document.querySelectorAll('#rag-chat .message'); return m.length >= n + 2 &&"
        " !m[m.length - 1].innerText.includes('Searching your documents'); }",
        arg=before, timeout=60_000,
    )
    page.wait_for_timeout(300)


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
    assert "quokka_b" in sources.inner_text()  # the stored upload gets a safe name
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
