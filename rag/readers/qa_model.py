"""A standard Hugging Face extractive question-answering model, by path (`--reader qa-model --qa-model PATH`).

For people who have such a model locally (e.g. a SQuAD 2.0 fine-tune). The model reads each retrieved passage;
its best span is mapped to document offsets and cited with the sentence around it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

from rag.errors import ModelNotFoundError
from rag.readers import DocumentLookup, Reading, abstention
from rag.text import sentence_spans
from rag.types import Citation, Hit


class QAModelReader:
    name = "qa-model"

    def __init__(self, model_path: str | Path, *, threshold: float = 0.1, max_passages: int = 5, allow_no_answer: bool = True):
        self.model_path = Path(model_path).expanduser()
        self.allow_no_answer = allow_no_answer  # SQuAD 2.0 models can say "no answer in this passage"
        self.threshold = threshold
        self.max_passages = max_passages
        self._pipeline = None
        self._lock = threading.Lock()

    @property
    def pipeline(self):
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    if not self.model_path.is_dir():
                        raise ModelNotFoundError(
                            f"question-answering model folder {self.model_path} does not exist",
                            hint="pass --qa-model PATH to a folder with config.json, weights and tokenizer",
                        )
                    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, pipeline

                    tokenizer = AutoTokenizer.from_pretrained(str(self.model_path), local_files_only=True)
                    model = AutoModelForQuestionAnswering.from_pretrained(str(self.model_path), local_files_only=True)
                    self._pipeline = pipeline("question-answering", model=model, tokenizer=tokenizer, device="cpu")
        return self._pipeline

    def read(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading:
        best = None
        for hit in hits[: self.max_passages]:
            result = self.pipeline(question=question, context=hit.chunk.text, handle_impossible_answer=self.allow_no_answer)
            if result["end"] <= result["start"] or not result["answer"].strip():
                continue
            if best is None or result["score"] > best[0]:
                best = (result["score"], hit, result["start"], result["end"])
        if best is None or best[0] < self.threshold:
            return abstention(best[0] if best else 0.0)
        score, hit, start, end = best
        document = lookup(hit.chunk.doc_id)
        start, end = hit.chunk.start + start, hit.chunk.start + end
        # Cite the sentence that holds the span, so the reader sees it in context.
        sentence = next(((s, e) for s, e in sentence_spans(document.text, hit.chunk.start, hit.chunk.end) if s <= start and end <= e), (start, end))
        citation = Citation.from_document(document, *sentence)
        return Reading(document.text[start:end], (citation,), False, float(score))
