# fluxfleet: every target sets up what it needs from pyproject.toml; nothing is installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= $(shell mktemp -d /tmp/fluxfleet-demo.XXXXXX)

.PHONY: all demo test lint typecheck unit bench clean

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh "$(DEMO_DIR)"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n 2 -q

test: lint typecheck unit

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# The property test of tests/hardening/test_fuzz.py, long: 10,000 hostile inputs with a random seed.
.PHONY: fuzz
fuzz: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" FLUXFLEET_FUZZ_EXAMPLES=$${FLUXFLEET_FUZZ_EXAMPLES:-10000} \
		FLUXFLEET_FUZZ_SHARDS=4 $(BIN)/pytest -q -x -n 4 -p no:cacheprovider --hypothesis-show-statistics \
		tests/hardening/test_fuzz.py
