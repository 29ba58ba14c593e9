"""Every benchmark script runs end to end in its tiny mode and prints its ratio."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_runs_in_tiny_mode(script):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--tiny"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ratio" in done.stdout.splitlines()[-1]
