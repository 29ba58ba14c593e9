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

# A live service on embedded defaults (SQLite catalog and MLflow store in ~/.microlift): simulate a dataset, train
# and register the models and import the catalog if they do not exist yet, then run gunicorn. A second start
# reuses all of it.
run: $(STAMP)
	$(BIN)/microlift serve --bootstrap $(DATA)

# The planner page's browser tests drive the system Chromium, and the proxy test runs deploy/nginx.conf in nginx
# (Debian's packages), installed here when missing.
test: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null)
	$(BIN)/ruff check microlift models training serving tests bench
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15

lint: $(STAMP)
	$(BIN)/ruff check microlift models training serving tests bench
	$(BIN)/lint-imports
