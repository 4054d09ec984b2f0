# ml2sc: every target sets up what it needs first (idempotent), so a fresh
# machine needs only Python 3.11, Node 20, npm and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ml2sc-installed
NODE_STAMP := node_modules/.ml2sc-installed
PYTEST_WORKERS ?= 2

.PHONY: setup demo test test-all bench lint clean

setup: $(STAMP) $(NODE_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is installed first and pinned exactly: the CPU build is on disk, while
# an unpinned torch would pull several GB of CUDA packages.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q "torch==2.13.0"
	$(BIN)/pip install --disable-pip-version-check -q -e ".[frameworks,dev]"
	touch $@

# npm install (not npm ci) against the lock: npm 11 records only this platform's
# optional anvil binary in the lock, which npm ci then rejects as out of sync.
$(NODE_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --no-save --loglevel=error
	touch $@

demo: setup
	$(BIN)/python examples/demo_breast_cancer.py

test: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

test-all: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q -m "slow or not slow"

bench: setup
	$(BIN)/ml2sc bench --out docs

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules out .pytest_cache
