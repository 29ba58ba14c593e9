"""`microlift serve`: get the catalog and the models ready, then run the service under gunicorn."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from microlift.models.settings import ServiceSettings, Settings
from microlift.serving import auth, catalog

CURL = """curl -s -X POST http://{host}/v1/rank -H 'Content-Type: application/json' \\
  -d '{{"brief": {{"niche": "home", "product_price": 21, "baseline_units_per_month": 542, "marketplace": "amazon"}},
       "filters": {{"platforms": ["instagram"], "tiers": ["micro"]}}, "top_k": 5}}'"""


def has_models(settings: Settings) -> bool:
    from microlift.training import registry

    try:
        return len(registry.resolve(settings).versions) == 3
    except LookupError:
        return False


def bootstrap(data: Path, creators: int = 6000, campaigns: int = 200, seed: int = 0) -> None:
    """On a fresh machine: simulate a dataset, train and register models and import the catalog. Whatever exists
    already (data, a model under the serving alias, a non-empty catalog) is reused."""
    from microlift.training.cli import main as cli

    settings, service = Settings.from_env(), ServiceSettings.from_env()
    catalog.migrate(service.database_url)
    engine = catalog.engine_for(service.database_url)
    need_models = not has_models(settings)
    need_catalog = catalog.snapshot(engine).creators.empty
    if (need_models or need_catalog) and not (data / "creators.parquet").exists() \
            and not (data / "creators.csv").exists():
        print(f"simulating {creators:,} creators and {campaigns} campaigns into {data} ...", flush=True)
        _check(cli(["simulate", "--creators", str(creators), "--campaigns", str(campaigns), "--seed", str(seed),
                    "--out", str(data), "--quiet"]))
    if need_models:
        print(f"no '{settings.model_alias}' models registered: training on {data} ...", flush=True)
        _check(cli(["train", "--data", str(data), "--register", "--quiet"]))
        _check(cli(["promote", "--data", str(data), "--version", "latest", "--force"]))
    else:
        print(f"models: reusing the registered '{settings.model_alias}' version set")
    if need_catalog:
        result = import_dataset(data, engine)
        print(f"catalog: imported {result.created:,} creators from {data} into {_safe(service.database_url)}")
    else:
        print(f"catalog: reusing {_safe(service.database_url)}")
    engine.dispose()


def import_dataset(path: Path, engine) -> catalog.ImportResult:
    """A creators file, or a dataset folder whose posts give each creator a history and a track record (held to
    the contract's ranges like a history given in a file)."""
    from microlift.models.contract import validate
    from microlift.training.plan import load_candidates

    frame = load_candidates(path)
    frame = frame[[c for c in catalog.COLUMNS if c in frame.columns]]
    if Path(path).is_dir():
        frame = validate("creators", frame, source=f"{path} (creators with the history of their posts)").frame
    return catalog.import_creators(engine, frame)


def _check(code: int) -> None:
    if code != 0:
        raise SystemExit(code)


def _safe(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

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
    has_models(settings)  # opens the MLflow store once: workers opening a new one together race to create its tables
    metrics_dir = settings.home / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads must not spin between requests
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    conf = Path(__file__).resolve().parent / "gunicorn_conf.py"
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", str(conf), "microlift.serving.app:create_app()"])
