"""Questions about a document itself: its author, date and title, and a letter's addressee and signer."""

import pytest

from rag.readers.metadata import letter_fields, metadata_question

LETTER = ("Town of Weldon, Planning Office\n\nDear Mr. Okafor,\n\nYour application for a garden studio at 12 Linden "
          "Road has been approved. The permit is valid for three years.\n\nYours sincerely,\nHelen Marsh, Planning "
          "Officer\n")
MAIL = ("From: Rosa Lind <rosa@example.org>\nTo: Tomas Berg <tomas@example.org>\nDate: Mon, 2 Mar 2026 09:00:00 "
        "+0100\nSubject: Boat survey\n\nDear Tomas,\n\nThe survey starts on Friday.\n\nKind regards,\nRosa\n")
REPORT = "Rivers of Europe\nBy Anna Berg\n6 March 2026\n\nThe Rhine carries less water every summer."


def fields_of(text):
    return {name: text[start:end] for name, (start, end) in letter_fields(text).items()}


def test_a_letter_s_salutation_and_closing_name_its_addressee_and_signer():
    assert fields_of(LETTER) == {"recipient": "Mr. Okafor", "signer": "Helen Marsh, Planning Officer"}
    # A mail's own header lines come first; its salutation and closing say less.
    assert fields_of(MAIL) == {"recipient": "Tomas Berg <tomas@example.org>", "signer": "Rosa Lind <rosa@example.org>"}
    assert fields_of(REPORT) == {}
    assert fields_of("Dear all,\n\nthe meeting moved.\n\nthanks") == {}  # no name


@pytest.mark.parametrize("question, field", [
    ("Who is the letter about the building permit addressed to?", "recipient"),
    ("To whom is the letter addressed?", "recipient"),
    ("Who was the mail sent to?", "recipient"),
    ("Who signed the letter from the planning office?", "signer"),
    ("Who is the letter from?", "signer"),
    ("Who sent the email?", "signer"),
    ("Who wrote the letter?", "author"),
    ("Who wrote the article?", "author"),
    ("Who signed the treaty?", None),  # someone else's document
    ("Who was the treaty addressed to?", None),
])
def test_questions_about_the_document_itself(question, field):
    assert metadata_question(question) == field


def test_the_letter_asked_about_answers_with_its_own_span(tmp_path, fake_embedder, fake_reranker):
    from rag.assistant import Assistant, Settings

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "permit.txt").write_text(LETTER, encoding="utf-8")
    (folder / "rivers.txt").write_text(REPORT, encoding="utf-8")
    assistant = Assistant(Settings(index_dir=tmp_path / "idx"), embedder=fake_embedder, reranker=fake_reranker)
    assistant.index_paths([folder])
    for question, expected in (("Who is the letter about the garden studio addressed to?", "Mr. Okafor"),
                               ("Who signed the letter about the garden studio?", "Helen Marsh, Planning Officer"),
                               ("Who wrote the letter about the garden studio?", "Helen Marsh, Planning Officer"),
                               ("Who wrote the article about the Rhine?", "Anna Berg")):
        answer = assistant.ask(question, reader="extractive")
        assert answer.text == expected and not answer.abstained
        citation = answer.citations[0]
        assert citation.quote == expected == answer.document(citation.doc_id).text[citation.start:citation.end]
