"""`microlift serve`: the API key, the catalog import of a dataset, and gunicorn."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from microlift.models import registry
from microlift.models.contract import validate
from microlift.models.datasets import load_candidates
from microlift.models.settings import Settings, process_environment
from microlift.serving import auth, catalog
from microlift.serving.settings import ServiceSettings

CURL = """curl -s -X POST http://{host}/v1/rank -H 'Content-Type: application/json' \\
  -d '{{"brief": {{"niche": "home", "product_price": 21, "baseline_units_per_month": 542, "marketplace": "amazon"}},
       "filters": {{"platforms": ["instagram"], "tiers": ["micro"]}}, "top_k": 5}}'"""


def import_dataset(path: Path, engine) -> catalog.ImportResult:
    """A creators file, or a dataset folder whose posts give each creator a history and a track record (held to
    the contract's ranges like a history given in a file)."""
    frame = load_candidates(path)
    frame = frame[[c for c in catalog.COLUMNS if c in frame.columns]]
    if Path(path).is_dir():
        frame = validate("creators", frame, source=f"{path} (creators with the history of their posts)").frame
    return catalog.import_creators(engine, frame)


def safe_url(url: str) -> str:
    """A database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


def ensure_key(service: ServiceSettings) -> None:
    """With no key configured, make one and show it once on the terminal, before gunicorn starts.

    Only stderr, and only when it is a terminal: stdout and stderr become the server's log, and under a supervisor
    (systemd, docker, a file) a key printed there would be kept in it. Without a terminal no key is made; the
    operator runs `microlift keygen` (write and admin routes refuse every request until a key exists).
    """
    digests = auth.load_digests(service.api_key_hashes, service.api_keys_file)
    if digests:
        print(f"API keys: {len(digests)} configured (MICROLIFT_API_KEY_HASHES, {service.api_keys_file})")
        return
    if not sys.stderr.isatty():
        print("API keys: none configured, and no terminal to show a new one on: run `microlift keygen` to make one "
              "(write and admin routes refuse every request until then)", flush=True)
        return
    key = auth.new_key(service.api_keys_file)
    print(f"API key for write and admin routes (shown once, here only; its sha256 is in {service.api_keys_file}):"
          f"\n  {key}", file=sys.stderr, flush=True)


def announce(service: ServiceSettings) -> None:
    host = service.bind if not service.bind.startswith("0.0.0.0") else "127.0.0.1" + service.bind[7:]
    print(f"\nmicrolift is serving on http://{host}  (docs: http://{host}/docs, health: http://{host}/readyz)\n"
          f"try:\n{CURL.format(host=host)}\n", flush=True)


def run_gunicorn(service: ServiceSettings) -> None:
    """Replace this process with gunicorn (workers each load the app; nothing is shared across a fork)."""
    settings = Settings.from_env()
    # open the MLflow store once: workers opening a new one together race to create its tables
    registry.complete(settings)
    metrics_dir = settings.home / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env = process_environment({"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    conf = Path(__file__).resolve().parent / "gunicorn_conf.py"
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "gunicorn", "-c", str(conf),
                               "microlift.serving.app:create_app()"], env)
