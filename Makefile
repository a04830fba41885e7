# The two commands a new machine needs: `make test` (every test) and, with the local runtime, `make demo`.
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/goship-dev
VENV ?= $(CACHE)/venv
PY := $(VENV)/bin/python
export VENV
# Two cores: xdist's two workers keep the slow integration tier short.
PYTEST_WORKERS ?= 2

.PHONY: bootstrap test test-unit test-integration lint bench

bootstrap:
	@scripts/bootstrap

test: bootstrap
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests

test-unit: bootstrap
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests/unit

test-integration: bootstrap
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests/integration

lint: bootstrap
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

bench: bootstrap
	$(PY) benchmarks/version_speed.py; v=$$?; $(PY) benchmarks/deps_speed.py; d=$$?; exit $$(( v > d ? v : d ))
