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
# does not, those tests are skipped and say why (CI, through .ci/run, requires them: MICROLIFT_REQUIRE_ALL_TESTS=1).
test: $(TEST_STAMP)
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@test -x /usr/sbin/nginx || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null)
	@command -v chromium >/dev/null || echo "no Chromium here (and no root to install it): the planner page's browser tests will be skipped"
	@test -x /usr/sbin/nginx || echo "no nginx here (and no root to install it): the proxy test will be skipped"
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
