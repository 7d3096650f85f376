# lakehouse: one machine, one command. `make demo`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export LAKEHOUSE_ROOT ?= $(CURDIR)/.lakehouse
export DAGSTER_HOME ?= $(LAKEHOUSE_ROOT)/dagster
PYTEST_ARGS ?=

.PHONY: help venv demo dev test test-fast bench lint fmt clean source-up source-down status

help:
	@echo "make demo   - create .venv, start + seed the embedded source, replicate, materialize every asset, summary"
	@echo "make dev    - the Dagster UI (workspace.yaml) at http://127.0.0.1:3000"
	@echo "make test   - the whole test suite (real PostgreSQL, moto S3 server, Delta)"
	@echo "make bench  - benchmarks (ratios against a baseline measured in the same run)"
	@echo "make lint   - ruff"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lakehouse demo

dev: $(STAMP)
	$(VENV)/bin/lakehouse dev --port 3000

status: $(STAMP)
	$(VENV)/bin/lakehouse status

source-up: $(STAMP)
	$(VENV)/bin/lakehouse source up

source-down: $(STAMP)
	$(VENV)/bin/lakehouse source down

# a private basetemp: another pytest run on the machine must not clean up our servers' data
test: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadgroup -q --basetemp=$(CURDIR)/.pytest-tmp $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadgroup -q --basetemp=$(CURDIR)/.pytest-tmp -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check lakehouse lakehouse_tests bench glue_scripts
	$(VENV)/bin/ruff format --check lakehouse lakehouse_tests bench glue_scripts

fmt: $(STAMP)
	$(VENV)/bin/ruff format lakehouse lakehouse_tests bench glue_scripts
	$(VENV)/bin/ruff check --fix lakehouse lakehouse_tests bench glue_scripts

clean:
	-$(VENV)/bin/lakehouse source down
	rm -rf .lakehouse
