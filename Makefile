# Set-up is part of every target: a fresh machine needs only Python 3.11+ (and root for Debian's chromium).
VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
PYTEST    ?= $(VENV)/bin/pytest
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-fast browser-deps eval bench clean

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
	$(VENV)/bin/rag serve

test: install browser-deps
	$(PYTEST) -q

test-fast: install
	$(PYTEST) -q -m "not integration and not browser"

eval: install
	$(VENV)/bin/rag eval-all --out eval-results

bench: install
	$(VENV)/bin/rag bench --out bench-results

clean:
	rm -rf $(VENV) eval-results bench-results
