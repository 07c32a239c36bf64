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


def test_a_view_the_span_attributes_to_someone_is_not_stated_flatly():
    span = ("Sceptics of the theory point out that the symptoms are not unique and that transport by fleas in goods "
            "was of marginal significance.")
    llm = VerdictLLM("Yes")  # a model that would let it through
    judge = SupportJudge(llm)
    assert not judge("Rats are not responsible because the symptoms are not unique.", [span], "Why might rats not be responsible?").supported
    assert llm.calls == 0
    assert judge("Sceptics point out that the symptoms are not unique.", [span]).supported  # attributed, as the span does
    merger = "Critics argue that the merger may raise prices."
    assert judge("Critics say the merger may raise prices.", [merger]).supported  # attributed
    assert judge("According to critics, the merger may raise prices.", [merger]).supported
    # The span's own modal copied along does not say whose view it is.
    assert not judge("The merger may raise prices.", [merger]).supported
    assert not judge("The merger raises prices.", [merger]).supported
