# Set-up is part of every target: a fresh machine needs only Python 3.11+ (and root for Debian's chromium).
VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
PYTEST    ?= $(VENV)/bin/pytest
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-fast fuzz browser-deps eval bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: 2.13.0 is a CPU build; an unpinned torch pulls a multi-gigabyte CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,llm]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's chromium; install it when missing and we are allowed to.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: the browser tests will be skipped (sudo apt-get install chromium)"; fi; \
	fi

run: install
	$(VENV)/bin/rag serve --reader llm

test: install browser-deps
	$(PYTEST) -q

test-fast: install
	$(PYTEST) -q -m "not integration and not browser"

# The fuzz properties at 20 times their default examples (about 20,000 in all), with hypothesis's statistics.
fuzz: install
	RAG_FUZZ_SCALE=20 $(PYTEST) -q tests/test_fuzz.py -p no:cacheprovider --hypothesis-show-statistics

# The README's evaluation table, from the public sets in ../shared/data (read in place, never copied).
DATA ?= ../shared/data
SQUAD := $(DATA)/squad-v2-dev/dev-v2.0-25articles.json
RAG   := $(VENV)/bin/rag
eval: install
	$(RAG) eval seeds/questions.jsonl --out eval-results/seeds
	$(RAG) eval seeds/questions.jsonl --reader llm --out eval-results/seeds-llm
	$(RAG) eval --beir $(DATA)/scifact --split test --out eval-results/scifact
	$(RAG) eval --squad $(SQUAD) --reader none --out eval-results/squad-retrieval
	$(RAG) eval --squad $(SQUAD) --gold-context --limit 1000 --out eval-results/squad-gold
	$(RAG) eval --squad $(SQUAD) --gold-context --limit 150 --reader llm --out eval-results/squad-gold-llm
	$(RAG) eval --squad $(SQUAD) --limit 1000 --out eval-results/squad-open
	$(RAG) eval --squad $(SQUAD) --limit 150 --reader llm --out eval-results/squad-open-llm
	$(RAG) eval --rgb $(DATA)/rgb-en-fact/en_fact.json --out eval-results/rgb
	$(RAG) eval --rgb $(DATA)/rgb-en-fact/en_fact.json --negatives-only --out eval-results/rgb-negatives
	$(RAG) eval --rgb $(DATA)/rgb-en-fact/en_fact.json --negatives-only --reader llm --out eval-results/rgb-negatives-llm
	$(RAG) eval-table $(addprefix eval-results/,seeds seeds-llm scifact squad-retrieval squad-gold squad-gold-llm \
	  squad-open squad-open-llm rgb rgb-negatives rgb-negatives-llm) | tee eval-results/TABLE.md

# The README's performance tables: before/after for the embedder backend, FAISS index types, the server under load.
bench: install
	$(RAG) bench --corpus $(DATA)/scifact --embedder-backend torch --out bench-results
	$(RAG) bench --corpus $(DATA)/scifact --out bench-results
	$(RAG) bench faiss --out bench-results
	$(RAG) bench load --clients 20 --seconds 60 --out bench-results

clean:
	rm -rf $(VENV) eval-results bench-results
