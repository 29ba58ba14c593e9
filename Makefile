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

# Simulate a dataset, train and register the models, promote them if they beat the champion (or if there is
# none yet), then forecast the design's reference campaign with the champion.
run: $(STAMP)
	$(BIN)/microlift simulate --creators 6000 --campaigns 200 --seed 0 --out $(DATA)
	$(BIN)/microlift validate --data $(DATA)
	$(BIN)/microlift train --data $(DATA) --register --quiet
	-$(BIN)/microlift promote --data $(DATA)
	$(BIN)/microlift forecast --campaign data/sample/reference_campaign.json --candidates $(DATA)

test: $(STAMP)
	$(BIN)/ruff check models training serving tests bench
	$(BIN)/python -m pytest -n 2 --durations=15

lint: $(STAMP)
	$(BIN)/ruff check models training serving tests bench
