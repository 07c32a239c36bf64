"""A folder kept in step, on the folder store and Milvus Lite: sync catches up on what changed (added, changed,
removed, bad files skipped) in one commit, reads only files that changed, and the watch loop reflects a saved file
within seconds."""

import os
import threading
import time

import pytest

from rag.assistant import Assistant, Settings


@pytest.fixture
def notes(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "boiler.txt").write_text("The boiler was serviced by Thermserve on 14 March.\n")
    (folder / "lift.md").write_text("# Lift\n\nThe passenger lift is inspected every six months.\n")
    return folder


@pytest.fixture(params=["folder", "milvus-lite"])
def keeper(request, tmp_path, fake_embedder, fake_reranker):
    settings = (Settings(index_dir=tmp_path / "index") if request.param == "folder"
                else Settings(store=f"milvus:{tmp_path / 'index.db'}"))
    return Assistant(settings, embedder=fake_embedder, reranker=fake_reranker)


def sources(assistant):
    return sorted(os.path.basename(s) for s in assistant.store.sources())


def test_sync_adds_changes_and_removes_in_one_commit_and_reads_only_what_changed(keeper, notes, fake_embedder):
    report, skipped = keeper.sync([notes])
    assert sorted(os.path.basename(s) for s in report.added) == ["boiler.txt", "lift.md"] and not skipped
    assert sources(keeper) == ["boiler.txt", "lift.md"]

    read = []
    report, _ = keeper.sync([notes], on_file=read.append)
    assert not report.changed and read == []  # nothing changed: no file is read again

    (notes / "boiler.txt").write_text("The boiler was serviced by Thermserve on 2 April.\n")
    os.utime(notes / "boiler.txt", ns=(time.time_ns(), time.time_ns() + 10_000_000))
    (notes / "lift.md").unlink()
    (notes / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (notes / "pier.txt").write_text("The north pier repair costs 41,500 pounds.\n")
    report, skipped = keeper.sync([notes], on_file=read.append)
    assert [os.path.basename(s) for s in report.replaced] == ["boiler.txt"]
    assert [os.path.basename(s) for s in report.added] == ["pier.txt"]
    assert [os.path.basename(s) for s in report.removed] == ["lift.md"]
    assert len(skipped) == 1 and "broken.pdf" in skipped[0].path  # a bad file does not stop the others
    assert sorted(os.path.basename(p) for p in map(str, read)) == ["boiler.txt", "broken.pdf", "pier.txt"]
    assert sources(keeper) == ["boiler.txt", "pier.txt"]
    assert "2 April" in keeper.ask("When was the boiler serviced?", reader="extractive").citations[0].quote


def test_documents_outside_the_folder_are_left_alone(keeper, notes, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("The car park closes at ten.\n")
    keeper.index_paths([other])
    keeper.sync([notes])
    assert sources(keeper) == ["boiler.txt", "lift.md", "other.txt"]


def test_a_file_saved_into_a_watched_folder_is_answerable_within_seconds(keeper, notes):
    from rag.watch import watch

    stop = threading.Event()
    synced = threading.Event()
    thread = threading.Thread(target=watch, args=(keeper, [notes]), daemon=True,
                              kwargs={"on_sync": lambda report, skipped: synced.set(), "stop": stop})
    thread.start()
    try:
        assert synced.wait(20)  # the catch-up sync at start
        saved = time.monotonic()
        (notes / "generator.txt").write_text("The backup generator is tested every Friday at noon.\n")
        deadline = saved + 15
        while time.monotonic() < deadline and "generator.txt" not in sources(keeper):
            time.sleep(0.1)
        assert "generator.txt" in sources(keeper)
        answer = keeper.ask("When is the backup generator tested?", reader="extractive")
        assert "every Friday" in answer.citations[0].quote
        (notes / "generator.txt").unlink()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "generator.txt" in sources(keeper):
            time.sleep(0.1)
        assert "generator.txt" not in sources(keeper)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_mails_attachments_follow_the_mail(keeper, notes):
    from email.message import EmailMessage

    def mail(*attachments):
        message = EmailMessage()
        message["Subject"] = "Pier survey"
        message.set_content("The survey is attached.\n")
        for name, text in attachments:
            message.add_attachment(text, filename=name)
        return bytes(message)

    path = notes / "survey.eml"
    path.write_bytes(mail(("survey.txt", "The pier survey found rust on 12 piles.\n"),
                          ("costs.txt", "Repairs cost 41,500 pounds.\n")))
    keeper.sync([notes])
    assert sources(keeper) == ["boiler.txt", "lift.md", "survey.eml", "survey.eml#costs.txt", "survey.eml#survey.txt"]
    answer = keeper.ask("How many piles had rust?", reader="extractive")
    assert answer.citations and answer.citations[0].source.endswith("survey.eml#survey.txt")

    keeper.sync([notes])  # unchanged: the attachments stay
    assert "survey.eml#costs.txt" in sources(keeper)

    path.write_bytes(mail(("survey.txt", "The pier survey found rust on 14 piles.\n")))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    report, _ = keeper.sync([notes])
    assert [os.path.basename(s) for s in report.removed] == ["survey.eml#costs.txt"]
    assert sources(keeper) == ["boiler.txt", "lift.md", "survey.eml", "survey.eml#survey.txt"]

    keeper.remove(str(path))  # removing the mail removes what was attached to it
    assert sources(keeper) == ["boiler.txt", "lift.md"]
