# Kuzet — the two commands are `make demo` and `make test`; `make help` lists the rest.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test lint types unit services browser-deps bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || PY=python3; $${PY:-$(PY)} -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Kuzet with its pinned dependencies

services: ## Start the local PostgreSQL, NATS and Mosquitto servers if they are not running
	@scripts/services.sh

browser-deps: ## Install Debian's Chromium for the browser tests
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

demo: $(STAMP) ## Set up a fresh SQLite database, seed a region, start the service and the simulator
	$(BIN)/kuzet demo

lint: $(STAMP) ## ruff over the code and tests
	$(BIN)/ruff check src tests benchmarks

types: $(STAMP) ## mypy (strict on the domain, engine and codecs)
	$(BIN)/mypy src/kuzet

unit: $(STAMP) services browser-deps ## Run pytest only
	$(BIN)/pytest

test: $(STAMP) services browser-deps lint types ## Lint, type-check and run every test (the one gate)
	$(BIN)/pytest

bench: $(STAMP) ## Run every benchmark (see docs/benchmarks.md)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
