# The two entry points of the README: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast test-browser lint format browser-deps latex-deps clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# Installed first and pinned so that no multi-GB CUDA build of torch is pulled in.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/crnkit demo --out demo-out

browser-deps:
	bash scripts/ensure-chromium.sh

latex-deps:
	bash scripts/ensure-latex.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-fast: $(STAMP) latex-deps
	$(BIN)/pytest -m "not browser"

test-browser: $(STAMP) browser-deps
	$(BIN)/pytest -m browser

test: lint test-fast test-browser

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache
