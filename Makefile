# The two commands of the README, and the steps they are made of.
#   make demo   set everything up, build the demo project on the embedded default and serve it
#   make test   set everything up and run the whole suite (lint, types, tests)
# Needs only Python >= 3.11, make and the package registries.

SHELL := /bin/bash
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never

# uv from PATH, else a private copy installed from PyPI into .tools/.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
UV_DEP := .tools/bin/uv
endif

.PHONY: setup setup-test setup-browser setup-postgres demo test lint typecheck pytest clean bench-setup bench bench-big

.tools/bin/uv:
	$(PYTHON) -m venv .tools || $(PYTHON) -m virtualenv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv

# Bytecode compiled once here (dependencies by uv, the package's own source after): a fresh
# server then loads it instead of compiling ~1000 modules (PYTHONDONTWRITEBYTECODE keeps
# Python from caching them itself).
setup: $(UV_DEP)
	$(UV) sync --locked --compile-bytecode --python $(PYTHON)
	.venv/bin/python -m compileall -q src >/dev/null

setup-test: $(UV_DEP) setup-browser setup-postgres
	$(UV) sync --locked --compile-bytecode --extra spark --extra postgres --python $(PYTHON)
	.venv/bin/python -m compileall -q src >/dev/null
	.venv/bin/python -m kundresa.native.build >/dev/null

# Debian's chromium for the web app's end-to-end tests (Playwright drives it; no download).
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo 2>/dev/null)
setup-browser:
	command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

# Debian's PostgreSQL for the Postgres parity tests (they start a throw-away cluster).
setup-postgres:
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ($(SUDO) apt-get update && $(SUDO) apt-get install -y postgresql)

demo: setup
	.venv/bin/kundresa demo kundresa-demo --force

lint: setup-test
	.venv/bin/ruff format --check src tests conftest.py
	.venv/bin/ruff check src tests conftest.py
	.venv/bin/lint-imports

typecheck: setup-test
	.venv/bin/mypy

pytest: setup-test
	.venv/bin/pytest -p no:cacheprovider -n 2 --dist loadfile --durations=25

test: lint typecheck pytest

# Benchmarks against chDB and pm4py (bench/README.md). They live in an environment of their
# own, bench/.venv, so the test environment never gets the bench extra (pm4py is AGPL); its
# bytecode compiled as in setup, so timed processes load modules instead of compiling them.
BENCH_ENV := UV_PROJECT_ENVIRONMENT=bench/.venv

bench-setup: $(UV_DEP)
	$(BENCH_ENV) $(UV) sync --locked --compile-bytecode --extra bench --python $(PYTHON)
	bench/.venv/bin/python -m compileall -q src >/dev/null
	bench/.venv/bin/python -m kundresa.native.build >/dev/null

bench: bench-setup
	bench/.venv/bin/python bench/run_all.py

bench-big: bench-setup
	bench/.venv/bin/python bench/run_all.py --big

clean:
	rm -rf .venv .tools kundresa-demo .mypy_cache .ruff_cache
