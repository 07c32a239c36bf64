"""`rag bench`: speed and memory, measured the same way every time, each written as JSON (stable keys) and Markdown
into the output folder.

- pipeline (`rag.bench.pipeline`): indexing throughput and peak memory (a `rag index` process), query latency per
  stage (one question at a time, as a person asks), cold start of `rag ask`, and the same work done the naive way
  with the same libraries (SentenceTransformer.encode one text at a time, IndexFlatL2, no batching, no caching),
  reported as our/naive ratios so the comparison holds on a noisy machine.
- scale (`rag.bench.scale`): the vector stores at scale (1M synthetic clustered vectors by default): FAISS IVF in
  memory and IVF-PQ on disk (resident memory of a fresh process), optionally Milvus; build time, latency,
  recall@100 against exact search; replacing one document in a large folder index.
- load (`rag.bench.load`): the chat server under N concurrent API clients for S seconds on loopback.
- watch and files (`rag.bench.files`): a saved file's delay until answerable; indexing big files.
- ocr (`rag.ocr_bench`): OCR word accuracy and seconds per page.
"""

from rag.bench.common import DEFAULT_CORPUS, machine, stats, write
from rag.bench.files import bench_files, bench_watch, files_markdown, make_book_pdf, watch_markdown
from rag.bench.load import bench_load, load_markdown
from rag.bench.pipeline import bench_pipeline, naive_pipeline, pipeline_markdown
from rag.bench.scale import bench_replace, bench_scale, scale_markdown

__all__ = ["DEFAULT_CORPUS", "machine", "stats", "write", "bench_files", "bench_watch", "files_markdown",
           "make_book_pdf", "watch_markdown", "bench_load", "load_markdown", "bench_pipeline", "naive_pipeline",
           "pipeline_markdown", "bench_replace", "bench_scale", "scale_markdown"]
