"""rag: an offline question-answering assistant over your own documents, with exact cited source spans.

Importing this package is cheap: models and heavy libraries load on first use.
"""

__version__ = "0.1.0"
