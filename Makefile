# Set-up is part of every target: a fresh machine needs only Python 3.11+ (and root for Debian's chromium).
VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
PYTEST    ?= $(VENV)/bin/pytest
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-fast fuzz ocr-deps system-deps eval eval-tables calibrate bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: 2.13.0 is a CPU build; an unpinned torch pulls a multi-gigabyte CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,llm]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages: tesseract (with its English data) reads scanned pages; chromium runs the browser tests. Installed
# when missing and we are allowed to (root); otherwise the command to run is printed.
define apt_install
	@missing=""; \
	for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run: sudo apt-get install$$missing)"; fi; \
	fi
endef
OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng
ocr-deps:
	$(call apt_install,$(OCR_PACKAGES))
system-deps:
	$(call apt_install,$(OCR_PACKAGES) chromium)

run: install ocr-deps
	$(VENV)/bin/rag serve --reader auto

test: install system-deps
	$(PYTEST) -q

test-fast: install
	$(PYTEST) -q -m "not integration and not browser"

# The fuzz properties at 20 times their default examples (about 20,000 in all), with hypothesis's statistics.
fuzz: install
	RAG_FUZZ_SCALE=20 $(PYTEST) -q tests/test_fuzz.py -p no:cacheprovider --hypothesis-show-statistics

# The README's evaluation table, from the public sets in ../shared/data (read in place, never copied). SQuAD rows
# ask the test half of the articles (--fold test): the readers' confidence was fitted on the other half (calibrate).
DATA ?= ../shared/data
SQUAD := $(DATA)/squad-v2-dev/dev-v2.0-25articles.json
RGB   := $(DATA)/rgb-en-fact/en_fact.json
HOTPOT := $(DATA)/hotpotqa-dev250/hotpotqa_dev250.jsonl
RAG   := $(VENV)/bin/rag
EVAL_RUNS := seeds seeds-llm seeds-auto hotpot-auto hotpot-llm scifact squad-retrieval squad-gold squad-gold-llm squad-open squad-open-llm \
	rgb rgb-llm rgb-negatives rgb-negatives-llm tables tables-auto tables-confirm tables-confirm-auto kinds kind-labels
eval: install eval-tables
	$(RAG) eval seeds/questions.jsonl --out eval-results/seeds
	$(RAG) eval seeds/questions.jsonl --reader llm --out eval-results/seeds-llm
	$(RAG) eval seeds/questions.jsonl --reader auto --out eval-results/seeds-auto
	$(RAG) eval --hotpot $(HOTPOT) --fold test --reader auto --baseline stuff --out eval-results/hotpot-auto
	$(RAG) eval --hotpot $(HOTPOT) --fold test --reader llm --out eval-results/hotpot-llm
	$(RAG) eval --beir $(DATA)/scifact --split test --out eval-results/scifact
	$(RAG) eval --squad $(SQUAD) --reader none --out eval-results/squad-retrieval
	$(RAG) eval --squad $(SQUAD) --fold test --gold-context --limit 1000 --out eval-results/squad-gold
	$(RAG) eval --squad $(SQUAD) --fold test --gold-context --limit 300 --reader llm --out eval-results/squad-gold-llm
	$(RAG) eval --squad $(SQUAD) --fold test --limit 1000 --out eval-results/squad-open
	$(RAG) eval --squad $(SQUAD) --fold test --limit 300 --reader llm --out eval-results/squad-open-llm
	$(RAG) eval --rgb $(RGB) --out eval-results/rgb
	$(RAG) eval --rgb $(RGB) --reader llm --out eval-results/rgb-llm
	$(RAG) eval --rgb $(RGB) --negatives-only --out eval-results/rgb-negatives
	$(RAG) eval --rgb $(RGB) --negatives-only --reader llm --out eval-results/rgb-negatives-llm
	$(RAG) eval-kinds seeds/kinds.jsonl --data $(DATA) --out eval-results/kinds
	$(RAG) eval-kinds seeds/kind-labels.jsonl --labels-only --out eval-results/kind-labels
	$(RAG) eval-table $(addprefix eval-results/,$(EVAL_RUNS)) --publish docs/results
	cat eval-results/kinds/report.md | tee -a docs/results/TABLE.md

# Table cells: the tune questions (tests/data/tables) and the confirm questions (tests/data/tables-confirm, written
# before the cell rules and never used to choose them), both readers.
eval-tables: install
	$(RAG) eval tests/data/tables/questions.jsonl --corpus tests/data/tables --out eval-results/tables
	$(RAG) eval tests/data/tables/questions.jsonl --corpus tests/data/tables --reader auto --out eval-results/tables-auto
	$(RAG) eval tests/data/tables-confirm/questions.jsonl --corpus tests/data/tables-confirm --out eval-results/tables-confirm
	$(RAG) eval tests/data/tables-confirm/questions.jsonl --corpus tests/data/tables-confirm --reader auto --out eval-results/tables-confirm-auto
	$(RAG) eval-table $(addprefix eval-results/,tables tables-auto tables-confirm tables-confirm-auto) --publish docs/results

# The readers' shipped confidence (rag/readers/calibration.json), fitted on tune halves: the SQuAD articles' (both
# readers) and RGB's, with and without its answering passages (llm).
calibrate: install
	$(RAG) eval --squad $(SQUAD) --fold tune --gold-context --no-abstain --limit 1500 --out eval-results/cal-ext-gold
	$(RAG) eval --squad $(SQUAD) --fold tune --no-abstain --limit 1000 --out eval-results/cal-ext-open
	$(RAG) eval --squad $(SQUAD) --fold tune --gold-context --no-abstain --reader llm --limit 300 --out eval-results/cal-llm-gold
	$(RAG) eval --rgb $(RGB) --fold tune --no-abstain --reader llm --out eval-results/cal-rgb
	$(RAG) eval --rgb $(RGB) --fold tune --negatives-only --no-abstain --reader llm --out eval-results/cal-rgb-neg
	$(RAG) calibrate eval-results/cal-ext-gold eval-results/cal-ext-open --reader extractive --write
	$(RAG) calibrate eval-results/cal-llm-gold eval-results/cal-rgb eval-results/cal-rgb-neg --reader llm --write

# The README's performance tables: the embedder backends, the vector stores at scale (Scaling out; the Milvus rows
# need a server: add --store http://HOST:19530), the server under load (both readers, with uploads landing).
bench: install
	$(RAG) bench pipeline --corpus $(DATA)/scifact --embedder-backend torch --out bench-results
	$(RAG) bench pipeline --corpus $(DATA)/scifact --out bench-results
	$(RAG) bench scale --sizes 1000000 --out bench-results/scale-1m
	$(RAG) bench scale --sizes 1000000 --ondisk-only --replace-chunks 0 --out bench-results/scale-1m-ondisk
	$(RAG) bench scale --sizes 4000000 --ondisk-only --replace-chunks 0 --out bench-results/scale-4m
	$(RAG) bench load --clients 20 --seconds 60 --out bench-results
	$(RAG) bench load --clients 20 --seconds 60 --uploads-every 10 --out bench-results/with-uploads
	$(RAG) bench load --reader llm --clients 8 --seconds 60 --uploads-every 10 --out bench-results/with-uploads

clean:
	rm -rf $(VENV) eval-results bench-results
