"""Every benchmark script runs end to end in its tiny mode and prints its ratio."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_runs_in_tiny_mode(script):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--tiny"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ratio" in done.stdout.splitlines()[-1]


@pytest.fixture(scope="session")
def bench_cache(tmp_path_factory):
    """One folder for the prepared homes, shared by every script (and every xdist worker) of this session."""
    root = tmp_path_factory.getbasetemp()
    return (root.parent if "PYTEST_XDIST_WORKER" in os.environ else root) / "bench-cache"


@pytest.fixture(autouse=True)
def shared_prepared_home(bench_cache, monkeypatch):
    # The service benchmarks train and register models once per cache (under a file lock), not once per script.
    monkeypatch.setenv("MICROLIFT_BENCH_CACHE", str(bench_cache))


def test_service_benchmarks_are_smoke_tested():
    # given the service benchmarks, when the smoke test collects scripts, then each of them is run
    assert {"serve_vs_mlflow.py", "catalog_scale.py", "forecast_load.py", "train_scale.py"} <= set(SCRIPTS)
