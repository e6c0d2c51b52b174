# chartgen: two commands matter — `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CATALOG ?= catalog.yaml

.PHONY: help setup tools system-deps run generate check lint test test-fast test-times bench schema clean

help:
	@echo "make run    - set up, then validate, generate and lint the default catalog"
	@echo "make test   - set up, then run the whole test suite"
	@echo "make test-fast - the fast tier: pure-Python tests, no external binary, server or chartgen process"
	@echo "make bench  - run the benchmarks and rewrite docs/benchmarks.md"
	@echo "make test-times - time both test tiers and rewrite the Test suite section of docs/benchmarks.md"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

tools:
	$(PYTHON) tools/install_tools.py --quiet
	$(PYTHON) tools/install_checkov.py --quiet

# chartgen's own bytecode: an editable install leaves the source tree uncompiled, and with
# PYTHONDONTWRITEBYTECODE set every run would compile it again (about 0.1 s per process)
setup: $(STAMP) tools
	$(BIN)/python -m compileall -q chartgen

# Debian packages the tests use for real (OCI registry, GnuPG); installed when missing
system-deps:
	bash tools/install_system_deps.sh

run: setup
	$(BIN)/chartgen validate -c $(CATALOG)
	$(BIN)/chartgen generate -c $(CATALOG)
	$(BIN)/chartgen lint -c $(CATALOG)

generate: setup
	$(BIN)/chartgen generate -c $(CATALOG)

check: setup
	$(BIN)/chartgen generate -c $(CATALOG) --check

lint: setup
	$(BIN)/chartgen lint -c $(CATALOG)

# One xdist worker per core (PYTEST_WORKERS=0 runs in one process). A test file runs on one
# worker, so that a module-scoped fixture (a whole helmfile render, a served repository) is
# computed once, not once per worker.
PYTEST_WORKERS ?= auto
XDIST := -n $(PYTEST_WORKERS) --dist loadfile

test: setup system-deps
	$(BIN)/python -m pytest -q $(XDIST)

# The inner loop: tests that start no external binary, no server and no chartgen process
# (see tests/conftest.py)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(XDIST) -m "not integration"

test-times: setup system-deps
	$(BIN)/python benchmarks/suite_times.py --write

bench: setup
	$(BIN)/python benchmarks/run.py

schema: setup
	$(BIN)/chartgen schema > schemas/catalog.schema.json

clean:
	rm -rf $(VENV) .tools dist .pytest_cache .hypothesis
