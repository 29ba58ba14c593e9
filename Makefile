# The two commands of the README: `make run` and `make test`. Both create .venv and install the project first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA ?= data/simulated

.PHONY: run test lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/microlift simulate --creators 5000 --campaigns 100 --seed 0 --out $(DATA)
	$(BIN)/microlift validate --data $(DATA)

test: $(STAMP)
	$(BIN)/ruff check models training serving tests bench
	$(BIN)/python -m pytest -n 2 --durations=15

lint: $(STAMP)
	$(BIN)/ruff check models training serving tests bench
