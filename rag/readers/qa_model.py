"""A standard Hugging Face extractive question-answering model, by path (`--reader qa-model --qa-model PATH`).

For people who have such a model locally (e.g. a SQuAD 2.0 fine-tune). The model reads each retrieved passage;
its best span is mapped to document offsets and cited with the sentence around it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

from rag.errors import ModelNotFoundError
from rag.readers import AnswersAtOnce, DocumentLookup, Reading, abstention
from rag.text import sentence_spans
from rag.types import Citation, Hit

MAX_ANSWER_TOKENS = 30


class QAModelReader(AnswersAtOnce):
    name = "qa-model"

    def __init__(self, model_path: str | Path, *, threshold: float = 0.1, max_passages: int = 5, allow_no_answer: bool = True):
        self.model_path = Path(model_path).expanduser()
        self.allow_no_answer = allow_no_answer  # SQuAD 2.0 models can say "no answer in this passage"
        self.threshold = threshold
        self.max_passages = max_passages
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    if not self.model_path.is_dir():
                        raise ModelNotFoundError(
                            f"question-answering model folder {self.model_path} does not exist",
                            hint="pass --qa-model PATH to a folder with config.json, weights and tokenizer",
                        )
                    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

                    self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path), local_files_only=True)
                    model = AutoModelForQuestionAnswering.from_pretrained(str(self.model_path), local_files_only=True)
                    self._model = model.eval()
        return self._tokenizer, self._model

    def best_span(self, question: str, context: str) -> tuple[float, int, int] | None:
        """(probability, start, end) of the best answer span in `context`, character offsets; None for no answer.

        The standard SQuAD decoding: windows over long contexts, start/end logits over context tokens, spans of at
        most MAX_ANSWER_TOKENS, and the [CLS] position as "no answer" when allowed."""
        import torch

        tokenizer, model = self._load()
        encoded = tokenizer(
            question, context, truncation="only_second", max_length=384, stride=128,
            return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt",
        )
        offsets = encoded.pop("offset_mapping")
        encoded.pop("overflow_to_sample_mapping", None)
        with torch.no_grad():
            output = model(**{k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")})
        best = None
        null_best = None
        for window in range(offsets.shape[0]):
            sequence_ids = encoded.sequence_ids(window)
            start_logits, end_logits = output.start_logits[window], output.end_logits[window]
            probabilities = torch.softmax(start_logits, -1)[:, None] * torch.softmax(end_logits, -1)[None, :]
            null = float(probabilities[0, 0])
            null_best = null if null_best is None else max(null_best, null)
            context_tokens = [i for i, sid in enumerate(sequence_ids) if sid == 1]
            if not context_tokens:
                continue
            lo, hi = context_tokens[0], context_tokens[-1]
            scores = probabilities[lo : hi + 1, lo : hi + 1].triu().tril(MAX_ANSWER_TOKENS - 1)
            flat = int(torch.argmax(scores))
            i, j = divmod(flat, scores.shape[1])
            score = float(scores[i, j])
            if best is None or score > best[0]:
                best = (score, int(offsets[window][lo + i][0]), int(offsets[window][lo + j][1]))
        if best is None or best[2] <= best[1] or (self.allow_no_answer and null_best is not None and null_best > best[0]):
            return None
        return best

    def read(self, question: str, hits: Sequence[Hit], lookup: DocumentLookup) -> Reading:
        best = None
        for hit in hits[: self.max_passages]:
            span = self.best_span(question, hit.chunk.text)
            if span is None or not hit.chunk.text[span[1] : span[2]].strip():
                continue
            if best is None or span[0] > best[0]:
                best = (span[0], hit, span[1], span[2])
        if best is None or best[0] < self.threshold:
            return abstention(best[0] if best else 0.0)
        score, hit, start, end = best
        document = lookup(hit.chunk.doc_id)
        start, end = hit.chunk.start + start, hit.chunk.start + end
        # Cite the sentence that holds the span, so the reader sees it in context.
        sentence = next(((s, e) for s, e in sentence_spans(document.text, hit.chunk.start, hit.chunk.end) if s <= start and end <= e), (start, end))
        citation = Citation.from_document(document, *sentence)
        return Reading(document.text[start:end], (citation,), False, float(score))
