from rag.llm import Completion, Token
from rag.readers.support import SupportJudge, coverage

SPAN = "Acting president Marta Ruiz, the former mayor of Nicolosi, signed the agreement in 2019."


class VerdictLLM:
    def __init__(self, verdict: str):
        self.verdict, self.calls = verdict, 0

    def complete(self, messages, **_):
        self.calls += 1
        other = "No" if self.verdict == "Yes" else "Yes"
        return Completion(self.verdict, (Token(self.verdict, -0.1, ((self.verdict, -0.1), (other, -2.5))),))


def test_a_claim_that_adds_what_the_span_does_not_say_is_unsupported_without_asking_the_model():
    llm = VerdictLLM("Yes")
    support = SupportJudge(llm)("Marta Ruiz is the former president of Sicily.", [SPAN], "Who is Marta Ruiz?")
    assert not support.supported and llm.calls == 0
    assert coverage("Marta Ruiz is the former president of Sicily.", [SPAN], "Who is Marta Ruiz?") < 0.8


def test_the_model_decides_between_claims_whose_words_the_span_holds():
    claim = "Marta Ruiz, the former mayor of Nicolosi, signed the agreement."
    assert SupportJudge(VerdictLLM("Yes"))(claim + " In 2019", [SPAN]).supported
    assert not SupportJudge(VerdictLLM("No"))("Marta Ruiz signed the agreement as mayor of Nicolosi.", [SPAN]).supported


def test_the_source_s_own_words_are_supported_by_construction():
    llm = VerdictLLM("No")
    assert SupportJudge(llm)("signed the agreement in 2019", [SPAN]).supported and llm.calls == 0
