"""Which documents a scoped question may use: file names, folders and globs, case-insensitive; a pattern that
matches nothing is an error that lists what is indexed."""

import pytest

from rag.errors import RagError
from rag.scope import matches, scoped
from rag.types import Document

REPORT = Document("a", "/home/ana/reports/2026/Q3 report.pdf", "Q3", "text", {"name": "Q3 report.pdf"})
MINUTES = Document("b", "/home/ana/minutes/board-2026-05.md", "Board", "text")


@pytest.mark.parametrize("pattern, report, minutes", [
    ("Q3 report.pdf", True, False),
    ("q3 REPORT.PDF", True, False),  # case-insensitive
    ("*.pdf", True, False),
    ("board-*", False, True),
    ("reports", True, False),  # a folder the file is in
    ("reports/2026/*", True, False),
    ("/home/ana/*", True, True),
    ("2026", True, False),  # a folder's name, not any text that contains it
    ("port", False, False),  # part of a name is not a match
    ("  ", False, False),
])
def test_patterns(pattern, report, minutes):
    assert matches(REPORT, pattern) is report and matches(MINUTES, pattern) is minutes


def test_scoped_gives_every_document_without_patterns_and_an_error_when_nothing_matches():
    assert scoped([REPORT, MINUTES], []) is None
    assert scoped([REPORT, MINUTES], ["*.md", "*.pdf"]) == {"a", "b"}
    with pytest.raises(RagError, match="no indexed document matches 'memo.txt'") as error:
        scoped([REPORT, MINUTES], ["memo.txt"])
    assert "Q3 report.pdf" in error.value.hint


def _dated(doc_id, source, text):
    from rag.loaders import head_fields

    return Document(doc_id, source, "", text, {"fields": head_fields(text)})


def test_where_conditions_on_type_folder_title_author_and_the_document_s_own_date():
    memo = _dated("m", "/home/ana/letters/permit.txt", "Building permit granted\nBy Helen Oduya\n12 March 2026\n\nThe studio may be built.")
    old = _dated("o", "/home/ana/letters/old.txt", "Rates notice\n3 June 2019\n\nThe rates rise.")
    undated = Document("u", "/home/ana/notes/todo.md", "todo", "Buy milk.")
    everything = [memo, old, undated, REPORT]
    assert scoped(everything, [], ["type:pdf"]) == {"a"}
    assert scoped(everything, [], ["folder:letters"]) == {"m", "o"}
    assert scoped(everything, [], ["after:2026-01-01"]) == {"m"}  # a document without a date of its own is out
    assert scoped(everything, [], ["before:2020-12-31"]) == {"o"}
    assert scoped(everything, [], ["author:oduya"]) == {"m"}
    assert scoped(everything, [], ["title:permit"]) == {"m"}
    assert scoped(everything, ["*.txt"], ["after:2026-01-01"]) == {"m"}  # patterns and conditions together
    for bad, message in (("colour:red", "bad --where condition"), ("after:someday", "is not a date")):
        with pytest.raises(RagError, match=message):
            scoped(everything, [], [bad])
