# The two commands of the README: `make run` and `make test`. Both create .venv and install the project first,
# with the versions pinned in requirements.lock (refresh it with `make lock`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-stamp
TEST_STAMP := $(VENV)/.test-stamp
LOCK := requirements.lock
DATA ?= data/simulated

.PHONY: run test lint lock

# The service, training and the command line; no test tools.
$(RUN_STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e .
	touch $(RUN_STAMP)

# Everything: the dask and tune extras and the test tools.
$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[dev]"
	touch $(TEST_STAMP)

# A live service on embedded defaults (SQLite catalog and MLflow store in ~/.microlift): simulate a dataset, train
# and register the models and import the catalog if they do not exist yet, then run gunicorn. A second start
# reuses all of it.
run: $(RUN_STAMP)
	$(BIN)/microlift serve --bootstrap $(DATA)

# The planner page's browser tests drive the system Chromium, and the proxy test runs deploy/nginx.conf in nginx
# (Debian's packages). They are installed here when missing and this machine allows it (root and apt-get); where it
# does not (or the install fails), those tests are skipped and say why (CI, through .ci/run, requires them:
# MICROLIFT_REQUIRE_ALL_TESTS=1). The paths are the ones the tests look at.
CHROMIUM := $(or $(MICROLIFT_CHROMIUM),/usr/bin/chromium)
HAS_CHROMIUM := { test -x $(CHROMIUM) || command -v $(CHROMIUM); } >/dev/null
HAS_NGINX := { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null
CAN_APT := [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null
test: $(TEST_STAMP)
	@$(HAS_CHROMIUM) || ! { $(CAN_APT); } || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
		echo "installing Debian's chromium failed"
	@$(HAS_NGINX) || ! { $(CAN_APT); } || (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null) || \
		echo "installing Debian's nginx-light failed"
	@$(HAS_CHROMIUM) || echo "no Chromium at $(CHROMIUM) (installing it needs root and apt-get):" \
		"the planner page's browser tests will be skipped"
	@$(HAS_NGINX) || echo "no nginx (installing it needs root and apt-get): the proxy test will be skipped"
	$(BIN)/ruff check microlift models training serving tests bench
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15

lint: $(TEST_STAMP)
	$(BIN)/ruff check microlift models training serving tests bench
	$(BIN)/lint-imports

# Re-resolve every dependency (all extras) within pyproject.toml's ranges into requirements.lock.
lock: $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		--no-header --upgrade -o $(LOCK)
