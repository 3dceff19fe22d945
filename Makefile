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
LOCK := shared/requirements.txt
# The functions' runtime (template.yaml's Globals): python3.13 from PATH, else from pyenv; empty when neither.
# Asked for its own path rather than found with `command -v`, which also finds a pyenv shim that cannot run.
ifeq ($(origin PYTHON313),undefined)
PYTHON313 := $(firstword $(shell python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null) \
	$(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13))
endif
VENV313 := .venv-313
STAMP313 := $(VENV313)/.installed
# The layer's and the functions' tests, which also run on the runtime's Python; and the emulator's WAV rule,
# whose answer must not depend on the Python version.
RUNTIME_TESTS := tests/client tests/jobs tests/ingest tests/collect tests/webhook tests/emulator/test_wav.py

.PHONY: help install lock test test-313 lint format typecheck template-check run bench emulator clean

help:
	@echo "make run     run the whole pipeline on one machine (FILES='a.wav \"my song.mp3\"' PROMPT='...')"
	@echo "make test    lint, type-check, template checks and the whole test suite"
	@echo "make lock    regenerate the layer's lock ($(LOCK)) after changing a runtime pin"
	@echo "make bench   relay benchmarks (throughput and peak memory)"

# The runtime dependencies come from the layer's hashed lock, so the tests run the very closure the layer ships.
define make_venv
	$(1) -m venv $(2)
	$(2)/bin/python -m pip install --quiet --upgrade pip
	$(2)/bin/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(2)/bin/python -m pip install --quiet -e . --group dev
	touch $(2)/.installed
endef

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(call make_venv,$(PYTHON),$(VENV))

$(STAMP313): pyproject.toml $(LOCK)
	$(call make_venv,$(PYTHON313),$(VENV313))

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

# The layer's lock: the whole closure of pyproject.toml's runtime pins resolved for the functions' runtime
# (python3.13, arm64 Linux), every file of every release hashed, so the pip that `sam build` runs checks hashes.
# uv, because it resolves and hashes for a Python and platform other than the one it runs on in one command;
# pip-tools resolves for the interpreter it runs in, and pip's resolver (--dry-run --report with --platform)
# would leave the hashing to a script of our own. Existing pins are kept unless pyproject.toml moves them.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.13 \
		--python-platform aarch64-manylinux_2_34 --custom-compile-command "make lock" --output-file $(LOCK)

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
	SAM_CLI=$(abspath $(SAM)) CHECKOV=$(abspath $(CHECKOV_VENV))/bin/checkov PYTHON313=$(PYTHON313) $(BIN)/python -m pytest
	$(if $(PYTHON313),$(MAKE) --no-print-directory test-313,@echo "python3.13 not found (PATH or pyenv): the runtime tests did not run on the functions' Python")

test-313: $(STAMP313)
	$(VENV313)/bin/python -m pytest $(RUNTIME_TESTS)

# FILES is split like shell words by lassodrop itself, so a name with spaces is quoted inside it
# (FILES='"my song.wav" b.mp3'). FILES and PROMPT reach it as typed: their unexpanded text, single-quoted here,
# so neither make nor the shell reads a $, a quote or a backquote in them.
shell_quote = '$(subst ','\'',$(1))'

run: $(STAMP)
	$(BIN)/lassodrop run --file-list $(call shell_quote,$(value FILES)) \
		$(if $(value PROMPT),--prompt $(call shell_quote,$(value PROMPT)))

bench: $(STAMP)
	$(BIN)/python -m lassodrop_local.bench

emulator: $(STAMP)
	$(BIN)/lassodrop emulator --port 0 --api-key al_local_key

clean:
	rm -rf $(VENV) $(VENV313) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache out
