"""Evaluation: question-set loaders, metrics, the runner behind `rag eval`, and its reports."""
