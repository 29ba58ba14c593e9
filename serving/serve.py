"""`microlift serve`: the API key, the catalog import of a dataset, and gunicorn."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from microlift.models import registry
from microlift.models.contract import validate
from microlift.models.datasets import load_candidates
from microlift.models.settings import Settings, process_environment
from microlift.serving import auth, catalog
from microlift.serving.settings import ServiceSettings

# The README's reference campaign ("The service"), then a ranking over the catalog.
FORECAST_CURL = """curl -s -X POST http://{host}/v1/forecast -H 'Content-Type: application/json' -d '{{
  "brief": {{"niche": "home", "product_price": 21, "baseline_units_per_month": 542, "marketplace": "amazon",
            "compensation": "gifting", "gift_value": 39, "weeks": 13, "platforms": ["instagram"], "tiers": ["micro"]}},
  "budget": 9917, "filters": {{"countries": ["US"]}}}}'"""
RANK_CURL = """curl -s -X POST http://{host}/v1/rank -H 'Content-Type: application/json' \\
  -d '{{"brief": {{"niche": "home", "product_price": 21, "baseline_units_per_month": 542, "marketplace": "amazon"}},
       "filters": {{"platforms": ["instagram"], "tiers": ["micro"]}}, "top_k": 5}}'"""
GUNICORN_PORT = 8000  # gunicorn's port when MICROLIFT_BIND names only a host


def import_dataset(path: Path, engine, replace_history: bool = False) -> catalog.ImportResult:
    """A creators file, or a dataset folder whose posts give each creator a history and a track record (held to
    the contract's ranges like a history given in a file); `replace_history` as in `catalog.import_creators`."""
    frame = load_candidates(path)
    frame = frame[[c for c in catalog.COLUMNS if c in frame.columns]]
    if Path(path).is_dir():
        frame = validate("creators", frame, source=f"{path} (creators with the history of their posts)").frame
    return catalog.import_creators(engine, frame, replace_history=replace_history)


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
        kept = " and ".join([*(["MICROLIFT_API_KEY_HASHES"] if service.api_key_hashes else []),
                             *([str(service.api_keys_file)] if service.api_keys_file.is_file() else [])])
        print(f"API keys: {len(digests)} configured (only their sha256 digests are kept, in {kept}); a key is shown "
              "once, when it is made: `microlift keygen` makes a new one and prints it once (the service reads keys "
              "as it starts)", flush=True)
        return
    if not sys.stderr.isatty():
        print("API keys: none configured, and no terminal to show a new one on: run `microlift keygen` to make one "
              "(write and admin routes refuse every request until then)", flush=True)
        return
    key = auth.new_key(service.api_keys_file)
    print(f"API key for write and admin routes, shown once, here only (only its sha256 is kept, in "
          f"{service.api_keys_file}); run this line in the shell you send requests from:\n  export KEY={key}",
          file=sys.stderr, flush=True)


def announce(service: ServiceSettings) -> None:
    host = service.bind if not service.bind.startswith("0.0.0.0") else "127.0.0.1" + service.bind[7:]
    print(f"\nmicrolift is serving on http://{host}  (docs: http://{host}/docs, health: http://{host}/readyz)\n"
          f"try a forecast (the README's reference campaign):\n{FORECAST_CURL.format(host=host)}\n"
          f"or a ranking:\n{RANK_CURL.format(host=host)}\n", flush=True)


def _address(bind: str) -> tuple[str, int] | None:
    """MICROLIFT_BIND as gunicorn reads it: (host, port); None for a unix socket or an inherited descriptor."""
    if bind.startswith(("unix:", "fd://")):
        return None
    if bind.startswith("["):  # [IPv6]:port
        host, _, rest = bind[1:].partition("]")
        port = rest.removeprefix(":") or str(GUNICORN_PORT)
    elif bind.count(":") == 1:
        host, port = bind.split(":")
    elif ":" in bind:  # a bare IPv6 address
        host, port = bind, str(GUNICORN_PORT)
    else:
        host, port = bind, str(GUNICORN_PORT)
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"MICROLIFT_BIND: got {bind!r}; expected HOST:PORT with a port up to 65535 (e.g. "
                         "127.0.0.1:8000), unix:PATH or fd://FD")
    return host, int(port)


def _listen_error(host: str, port: int) -> OSError | None:
    """Why a listening socket cannot be opened on host:port now (None when it can), tried as gunicorn binds:
    IPv6 for an IPv6 address, else IPv4, with SO_REUSEADDR."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            probe.listen(1)
    except OSError as exc:
        return exc
    return None


def check_bind(bind: str) -> str | None:
    """None when gunicorn can listen on MICROLIFT_BIND now; otherwise one line saying why and what to set."""
    address = _address(bind)
    if address is None:
        return None
    host, port = address
    shown = f"[{host}]" if ":" in host else host
    error = _listen_error(host, port)
    if error is None:
        return None
    if error.errno == errno.EADDRINUSE:
        spare = next((p for p in range(port + 1, min(port + 100, 65536)) if _listen_error(host, p) is None),
                     port + 1)
        return (f"{shown}:{port} is in use (another microlift?); set MICROLIFT_BIND={shown}:{spare} to use another "
                "port")
    return f"cannot listen on {shown}:{port} (MICROLIFT_BIND={bind}): {error.strerror or error}"


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
