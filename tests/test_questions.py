import pytest

from rag.questions import about_one, classify, resolve_followup, without_corpus_reference


@pytest.mark.parametrize("question, kind", [
    ("When did Mount Etna erupt?", "fact"),
    ("What is the name of the keeper's daughter?", "fact"),
    ("Who is the mayor of Nicolosi?", "fact"),
    ("Who is acting as the island's governor now?", "fact"),
    ("What does the new law passed in January do?", "fact"),
    ("What is the island's oldest village called?", "fact"),
    ("Which rivers flow into the North Sea?", "list"),
    ("List the countries the Danube flows through", "list"),
    ("What minerals are found in the region?", "list"),
    ("Is Kilauea a shield volcano?", "yesno"),
    ("Did the lava lake drain in 2018?", "yesno"),
    ("Kilauea's lava lake drained in 2018.", "yesno"),
    ("Why did the village of Nicolosi disappear?", "reason"),
    ("How did the eruption affect Sicily?", "reason"),
    ("What caused the flooding?", "reason"),
    ("Who is Marta Ruiz?", "description"),
    ("What is a shield volcano?", "description"),
    ("Tell me about the Rhine", "description"),
    ("What is this document about?", "overview"),
    ("Summarize the documents", "overview"),
    ("Which is longer, the Danube or the Rhine?", "comparison"),
    ("What is the difference between Etna and Kilauea?", "comparison"),
    ("In which city was the painter of the portrait born?", "fact"),
    ("What award did the woman who founded the magazine win?", "two-step"),
])
def test_kinds_by_the_form_of_the_question(question, kind):
    assert classify(question).kind == kind


def test_a_comparison_names_its_two_things():
    assert classify("Which magazine was started first, Arthur's Magazine or First for Women?").options == (
        "Arthur's Magazine", "First for Women")
    assert classify("Were Scott Derrickson and Ed Wood of the same nationality?").options == ("Scott Derrickson", "Ed Wood")


@pytest.mark.parametrize("question, options", [
    ("Is a problem instance typically characterized as abstract or concrete?", ("abstract", "concrete")),
    ("Are the meetings held weekly or monthly?", ("weekly", "monthly")),
    ("Was he a doctor or a lawyer?", ("doctor", "lawyer")),
    ("Is it open on Sundays or not?", None),  # yes or no
    ("Does the permit allow sheds or garages?", None),  # yes or no: are either allowed
    ("Are dogs or cats allowed?", None),
])
def test_two_alternatives_at_the_end_of_an_is_question_are_a_choice(question, options):
    asked = classify(question)
    assert (asked.kind, asked.options) == (("comparison", options) if options else ("yesno", ()))


def test_a_yes_no_question_about_two_things_is_asked_of_each_alone():
    asked = classify("Are Hot Rod and The Memory of Our People both magazines?")
    assert asked.options == ("Hot Rod", "Memory of Our People")
    assert about_one(asked.text, "Hot Rod") == "Is Hot Rod magazines?"
    assert about_one("Do the drinks Gibson and Zurracapote both contain gin?", "Zurracapote") == "Does Zurracapote contain gin?"
    assert about_one("Both Sorbaria and Goldenrod are a genus of plants?", "Goldenrod") == "Goldenrod is a genus of plants?"
    assert about_one("Were Sound Team and Dead by Sunrise both formed before 2010?", "Dead by Sunrise") == (
        "Was Dead by Sunrise formed before 2010?")
    assert about_one("Is the sky blue?", "sky") == "Is the sky blue?"  # not about two things: unchanged


def test_names_may_begin_with_any_capital_letter():
    assert classify("Are Über Goober and Łódź Story both documentaries?").options == ("Über Goober", "Łódź Story")


def test_a_statement_is_a_claim_to_check():
    asked = classify("Kilauea's lava lake drained in 2018.")
    assert asked.claim and asked.kind == "yesno"


def test_a_follow_up_reads_the_name_it_refers_to():
    assert resolve_followup("What did she sign?", ["Who is Marta Ruiz?"]) == "What did Marta Ruiz sign?"
    assert resolve_followup("When was its lava lake drained?", ["Where is Kilauea?"]) == "When was Kilauea's lava lake drained?"
    assert resolve_followup("When did Etna erupt?", ["Who is Marta Ruiz?"]) == "When did Etna erupt?"
    assert resolve_followup("What did she sign?", []) == "What did she sign?"


def test_a_question_is_read_once_however_many_parts_ask():
    from rag.readers.signals import constraints
    from rag.readers.spans import question_type

    for parse, question in ((classify, "When did Etna erupt?"), (question_type, "When did Etna erupt?"),
                            (constraints, "Who won in 2022?")):
        parse.cache_clear()
        first = parse(question)
        assert parse(question) is first and parse.cache_info().misses == 1 and parse.cache_info().hits == 1


def test_what_two_named_things_share_and_which_one_of_two():
    shared = classify("What profession does H. L. Mencken and Albert Camus have in common?")
    assert shared.kind == "fact" and shared.options == ("H. L. Mencken", "Albert Camus")
    assert classify("Both Ralph Bakshi and Béla Gaál had what role in film making?").options == ("Ralph Bakshi", "Béla Gaál")
    choice = classify("Temagami-Lorrain Mine and Burwash Mine were both mines; which one yielded more gold?")
    assert choice.kind == "comparison" and choice.options == ("Temagami-Lorrain Mine", "Burwash Mine")
    assert classify("In between Berghuis v. Thompkins and Mississippi University for Women v. Hogan which one was "
                    "decided first?").options == ("Berghuis v. Thompkins", "Mississippi University for Women v. Hogan")
    assert classify("Which actor do American Beauty and American Beauty have in common?").options == ()
    assert classify("Are the Danube and the Rhine both rivers?").kind == "yesno"  # yes/no stays yes/no


@pytest.mark.parametrize("question, searched", [
    ("Which oil companies are named in the article?", "Which oil companies are named?"),
    ("Who is quoted in these documents?", "Who is quoted?"),
    ("Which companies are mentioned in the quarterly report?", "Which companies are mentioned?"),
    ("According to the report, why did sales fall?", "Why did sales fall?"),
    ("Where is the museum in the old town?", "Where is the museum in the old town?"),  # not the documents
    ("How many pages are in the report?", "How many pages are in the report?"),  # about the document itself
    ("What is in the report?", "What is in the report?"),
    ("What is this article about?", "What is this article about?"),
])
def test_where_to_look_is_left_out_of_the_question(question, searched):
    assert without_corpus_reference(question) == searched
