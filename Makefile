# The two commands a new machine needs: `make test` (every test) and, with the local runtime, `make demo`.
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/goship-dev
VENV ?= $(CACHE)/venv
PY := $(VENV)/bin/python
export VENV
# Two cores: xdist's two workers keep the slow integration tier short.
PYTEST_WORKERS ?= 2

.PHONY: bootstrap cluster demo test test-unit test-integration lint bench

bootstrap:
	@scripts/bootstrap

# The main job on the local runtime: a clean upgrade and a bad one, rehearsed under load.
demo: bootstrap
	$(VENV)/bin/goship demo

# The Kubernetes control plane the cluster tests run on is built from Go modules once (about 11 min on
# two cores, cached by version under $(CACHE)/k8s); later runs find it built in milliseconds.
test: bootstrap cluster
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests

cluster:
	@scripts/test-cluster build

test-unit: bootstrap
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests/unit

test-integration: bootstrap cluster
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests/integration

lint: bootstrap
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

bench: bootstrap
	@worst=0; for b in version_speed deps_speed image_speed router_speed; do \
		$(PY) benchmarks/$$b.py; rc=$$?; [ $$rc -gt $$worst ] && worst=$$rc; done; exit $$worst
