"""rag: an offline question-answering assistant over your own documents, with exact cited source spans.

    from rag import Assistant

    assistant = Assistant.open("my-index")
    assistant.add(["notes/"])
    answer = assistant.ask("Who signed the mining agreement?")

Importing this package is cheap: models and heavy libraries load on first use.
"""

__version__ = "0.1.0"
__all__ = ["Answer", "Assistant", "Citation", "DocumentInfo", "Passage", "RagError"]


def __getattr__(name: str):
    # The public names, imported when first asked for, so `import rag` (and `rag --help`) stays instant.
    if name == "Assistant":
        from rag.assistant import Assistant

        return Assistant
    if name in ("Answer", "Citation", "DocumentInfo", "Passage"):
        from rag import types

        return getattr(types, name)
    if name == "RagError":
        from rag.errors import RagError

        return RagError
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
