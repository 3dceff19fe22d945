# The one interface for people and CI. Every target builds what it needs from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: help install test lint format typecheck template-check run bench emulator clean

help:
	@echo "make run     run the whole pipeline on one machine (FILES=\"a.wav b.mp3\" PROMPT=\"...\")"
	@echo "make test    lint, type-check, template checks and the whole test suite"
	@echo "make bench   relay benchmarks (throughput and peak memory)"

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $@

$(SAM_STAMP): pyproject.toml
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet --group sam
	touch $@

$(CHECKOV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --group checkov
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every handler is a module named `app`, so mypy checks them one at a time.
typecheck: $(STAMP)
	$(BIN)/mypy
	for handler in functions/*/app.py; do $(BIN)/mypy "$$handler" || exit 1; done

test: $(STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) lint typecheck
	SAM_CLI=$(abspath $(SAM)) CHECKOV=$(abspath $(CHECKOV_VENV))/bin/checkov $(BIN)/python -m pytest

run: $(STAMP)
	$(BIN)/lassodrop run $(FILES) $(if $(PROMPT),--prompt "$(PROMPT)")

bench: $(STAMP)
	$(BIN)/python -m lassodrop_local.bench

emulator: $(STAMP)
	$(BIN)/lassodrop emulator --port 0 --api-key al_local_key

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache out
