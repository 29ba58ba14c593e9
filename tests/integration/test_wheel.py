"""The wheel: built from the working tree, installed (not editable) into a fresh virtualenv outside the repository,
it holds the planner page, the migrations and only `microlift.*` import names, and it serves.

The fresh virtualenv borrows the test interpreter's installed dependencies through a `.pth` file (its
site-packages folders, as paths only: the `.pth` files inside them, among them the editable install of this
repository, are not run), so `microlift` itself can come only from the wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import requests

from tests.service_support import background, free_port, service_env

pytestmark = [pytest.mark.slow, pytest.mark.service]
REPO = Path(__file__).resolve().parents[2]
NOT_SHIPPED = {".git", ".venv", "__pycache__", "build", "dist", ".pytest_cache", ".ruff_cache", "simulated"}
BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 400, "compensation": "gifting",
         "marketplace": "amazon", "weeks": 8}


def _run(argv: list, cwd: Path, env: dict | None = None, timeout: float = 600) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} exited with {done.returncode}:\n" \
                                 f"{(done.stdout + done.stderr)[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of the working tree, built from a copy (the repository is left as it was)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, symlinks=True,
                    ignore=lambda folder, names: [n for n in names if n in NOT_SHIPPED or n.endswith(".egg-info")])
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", root / "dist",
          source], cwd=root)
    (found,) = (root / "dist").glob("microlift-*.whl")
    return found


def test_the_wheel_holds_the_page_the_migrations_and_only_microlift_names(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("microlift/serving/static/planner.js", "microlift/serving/static/planner.css",
                    "microlift/serving/templates/planner.html", "microlift/serving/migrations/script.py.mako",
                    "microlift/serving/migrations/versions/0001_catalog.py", "microlift/serving/migrations/env.py",
                    "microlift/models/planning.py", "microlift/training/pipeline.py", "microlift/cli.py",
                    "microlift/commands/service.py"):
        assert shipped in names, shipped
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"microlift"}, tops
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "microlift = microlift.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_an_installed_wheel_serves_the_page_the_docs_and_a_forecast(wheel, tmp_path):
    # given a fresh virtualenv outside the repository with the wheel installed, not editable
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip())
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]} | {
        entry for entry in sys.path if Path(entry).name in ("site-packages", "dist-packages")}  # e.g. a layered venv
    (purelib / "borrowed-dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel], cwd=tmp_path)
    where = _run([python, "-c", "import microlift.serving, microlift.models; print(microlift.serving.__file__); "
                  "print(microlift.models.__file__)"], tmp_path)
    assert all(Path(line).is_relative_to(venv) for line in where.split()), where
    # when it bootstraps a small world and serves
    env = service_env(tmp_path / "home", MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="1")
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    env.pop("PYTHONPATH", None)
    data = tmp_path / "data"
    _run([venv / "bin" / "microlift", "simulate", "--creators", 800, "--campaigns", 50, "--seed", 4, "--out", data,
          "--quiet"], tmp_path, env)
    base = f"http://{env['MICROLIFT_BIND']}"
    log = tmp_path / "serve.log"
    with background([str(venv / "bin" / "microlift"), "serve", "--bootstrap", str(data)], env, log, tmp_path) as served:
        for _ in range(600):
            assert served.poll() is None, log.read_text()[-4000:]
            try:
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            subprocess.run(["sleep", "0.3"])
        else:
            pytest.fail(f"/readyz did not answer 200:\n{log.read_text()[-4000:]}")
        # then the planner page, its script, the API docs and a forecast answer from the installed files
        page = requests.get(base + "/", timeout=10)
        assert page.status_code == 200 and "<form" in page.text and "planner.js" in page.text
        script = requests.get(base + "/static/planner.js", timeout=10)
        assert script.status_code == 200 and len(script.content) > 1000
        docs = requests.get(base + "/docs", timeout=10)
        assert docs.status_code == 200 and "openapi" in docs.text.lower()
        answer = requests.post(base + "/v1/forecast", json={"brief": BRIEF, "budget": 2000, "draws": 200},
                               timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["roster"]["creators"] and answer.json()["forecast"]["units_per_month_during"]["p50"] > 0
    assert "Traceback" not in log.read_text()
