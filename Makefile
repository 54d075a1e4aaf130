# One gate: `make check` = format check + lint + strict types + import contract + all tests.
PY      := .venv/bin/python
STAMP   := .venv/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export DOCKER_HOST ?= unix://$(or $(LLAMADASH_TESTBED),/tmp/llamadash-testbed)/docker.sock

.PHONY: install testbed testbed-down test test-fast lint check bench run

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f .venv/.installed-* && touch $@

install: $(STAMP)

testbed: install  ## private dockerd + compose plugin + llama-server build + local image
	scripts/testbed/up.sh $(PY)

testbed-down:
	scripts/testbed/engine-down.sh

test: testbed  ## every test, against the real engine
	scripts/run-tests.sh $(PY)

test-fast: install  ## tests that need no engine
	$(PY) -m pytest -q -m "not engine"

lint: install
	$(PY) -m ruff format --check llamadash tests bench
	$(PY) -m ruff check llamadash tests bench
	$(PY) -m mypy
	.venv/bin/lint-imports

check: lint test

bench: testbed
	$(PY) bench/run_all.py

run: install
	.venv/bin/llamadash
