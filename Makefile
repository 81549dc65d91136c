# Two entry points for a fresh machine: `make demo` and `make test`. Both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One torch, installed before anything that needs it, so no loose requirement pulls another.
TORCH_VERSION := 2.15.0
export LUMINA_HOME ?= $(HOME)/.lumina

.PHONY: setup venv models native kafka-jars demo test lint unit clean

setup: venv models native kafka-jars

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet -e ".[models,dev]" "torch==$(TORCH_VERSION)"
	touch $@

models: venv
	$(BIN)/lumina setup models

# The fast profile's hot path compiled with mypyc (lumina/enrich/native.py says why);
# compiles only when one of its sources changed.
native: venv
	$(BIN)/python scripts/build_native.py

kafka-jars:
	bash scripts/fetch_kafka.sh "$(LUMINA_HOME)"

demo: setup
	$(BIN)/lumina demo

lint: venv
	$(BIN)/ruff check lumina tests bench
	$(BIN)/ruff format --check lumina tests bench
	$(BIN)/mypy

test: setup lint
	$(BIN)/python -m pytest

unit: venv
	$(BIN)/python -m pytest tests/unit

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis build
	rm -f lumina/enrich/*.so
