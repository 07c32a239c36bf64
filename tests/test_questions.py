import pytest

from rag.questions import classify, resolve_followup


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


def test_a_statement_is_a_claim_to_check():
    asked = classify("Kilauea's lava lake drained in 2018.")
    assert asked.claim and asked.kind == "yesno"


def test_a_follow_up_reads_the_name_it_refers_to():
    assert resolve_followup("What did she sign?", ["Who is Marta Ruiz?"]) == "What did Marta Ruiz sign?"
    assert resolve_followup("When was its lava lake drained?", ["Where is Kilauea?"]) == "When was Kilauea's lava lake drained?"
    assert resolve_followup("When did Etna erupt?", ["Who is Marta Ruiz?"]) == "When did Etna erupt?"
    assert resolve_followup("What did she sign?", []) == "What did she sign?"
