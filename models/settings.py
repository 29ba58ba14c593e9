"""Configuration, read from environment variables in this one place.

| variable | default | meaning |
|---|---|---|
| MICROLIFT_HOME | ~/.microlift | folder for local state (MLflow store and artifacts, catalog database, data) |
| MLFLOW_TRACKING_URI | sqlite:///$MICROLIFT_HOME/mlflow.db | MLflow tracking store (a server URL in production) |
| MLFLOW_REGISTRY_URI | the tracking URI | MLflow model registry |
| MICROLIFT_EXPERIMENT | microlift | MLflow experiment of training runs |
| MICROLIFT_MODEL_ALIAS | champion | registry alias that serving and `evaluate` load by default |
| MICROLIFT_MODEL_PREFIX | microlift | registered model names: PREFIX-engagement, PREFIX-conversion, PREFIX-lift |

The service (`microlift serve`) also reads:

| variable | default | meaning |
|---|---|---|
| DATABASE_URL | sqlite:///$MICROLIFT_HOME/catalog.db | creator catalog (SQLAlchemy URL; PostgreSQL in production) |
| MICROLIFT_API_KEY_HASHES | (none) | comma-separated sha256 hex digests of the API keys for write and admin routes |
| MICROLIFT_API_KEYS_FILE | $MICROLIFT_HOME/api-keys.sha256 | more key digests, one per line (`microlift keygen`) |
| MICROLIFT_BIND | 127.0.0.1:8000 | host:port gunicorn listens on |
| MICROLIFT_WORKERS | number of CPUs | gunicorn worker processes |
| MICROLIFT_THREADS | 4 | threads per worker (health checks answer while a forecast runs) |
| MICROLIFT_TIMEOUT | 120 | seconds before gunicorn restarts a silent worker |
| MICROLIFT_MAX_BODY_BYTES | 8388608 | largest request body (413 above it) |
| MICROLIFT_MAX_IMPORT_BYTES | 268435456 | largest body of POST /v1/creators/import |
| MICROLIFT_RATE_LIMIT | 600 | requests per minute per verified API key (else per address) on /v1, /admin; 0: off |
| REDIS_URL | (none) | Redis shared by the workers for the rate limit (without it, or while it fails: per worker) |
| MICROLIFT_SYNC_SECONDS | 0 | how often a worker checks for a new catalog revision or model set (0: each request) |
| MICROLIFT_REQUEST_DEADLINE | 30 | seconds a rank or forecast may work before it answers 503 (0: no deadline) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODEL_KINDS = ("engagement", "conversion", "lift")


@dataclass(frozen=True)
class Settings:
    home: Path
    tracking_uri: str
    registry_uri: str
    experiment: str
    model_alias: str
    model_prefix: str
    compiled_models: Path | None  # where compiled boosters are cached; None: LightGBM predicts

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("MICROLIFT_HOME") or Path.home() / ".microlift").expanduser().resolve()
        tracking = env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}"
        return cls(
            home=home,
            tracking_uri=tracking,
            registry_uri=env.get("MLFLOW_REGISTRY_URI") or tracking,
            experiment=env.get("MICROLIFT_EXPERIMENT") or "microlift",
            model_alias=env.get("MICROLIFT_MODEL_ALIAS") or "champion",
            model_prefix=env.get("MICROLIFT_MODEL_PREFIX") or "microlift",
            compiled_models=_compiled(env.get("MICROLIFT_COMPILED_MODELS"), home),
        )

    @property
    def artifact_root(self) -> str:
        """Where local runs keep their artifacts (used when the experiment is created here)."""
        return (self.home / "mlartifacts").as_uri()

    def model_name(self, kind: str) -> str:
        return f"{self.model_prefix}-{kind}"


@dataclass(frozen=True)
class ServiceSettings:
    """What the HTTP service needs beyond the model settings."""

    database_url: str
    api_key_hashes: tuple[str, ...]
    api_keys_file: Path
    bind: str
    workers: int
    threads: int
    timeout: int
    max_body_bytes: int
    max_import_bytes: int
    sync_seconds: float
    rate_limit: int
    redis_url: str | None
    request_deadline: float  # seconds; 0: none

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        env = os.environ if environ is None else environ
        home = Settings.from_env(env).home
        hashes = tuple(h.strip().lower() for h in (env.get("MICROLIFT_API_KEY_HASHES") or "").split(",") if h.strip())
        return cls(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{home / 'catalog.db'}",
            api_key_hashes=hashes,
            api_keys_file=Path(env.get("MICROLIFT_API_KEYS_FILE") or home / "api-keys.sha256").expanduser(),
            bind=env.get("MICROLIFT_BIND") or "127.0.0.1:8000",
            workers=_int(env, "MICROLIFT_WORKERS", os.cpu_count() or 1),
            threads=_int(env, "MICROLIFT_THREADS", 4),
            timeout=_int(env, "MICROLIFT_TIMEOUT", 120),
            max_body_bytes=_int(env, "MICROLIFT_MAX_BODY_BYTES", 8 << 20),
            max_import_bytes=_int(env, "MICROLIFT_MAX_IMPORT_BYTES", 256 << 20),
            sync_seconds=_seconds(env, "MICROLIFT_SYNC_SECONDS", 0.0),
            rate_limit=_int(env, "MICROLIFT_RATE_LIMIT", 600, low=0),
            redis_url=env.get("REDIS_URL") or None,
            request_deadline=_seconds(env, "MICROLIFT_REQUEST_DEADLINE", 30.0),
        )


def _compiled(raw: str | None, home: Path) -> Path | None:
    """MICROLIFT_COMPILED_MODELS: unset for `home`/compiled, `off` to predict with LightGBM, or a folder."""
    if not raw:
        return home / "compiled"
    if raw.strip().lower() in ("off", "0", "false", "no"):
        return None
    return Path(raw).expanduser().resolve()


def _int(env: Mapping[str, str], name: str, default: int, low: int = 1) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: got {raw!r}; expected a whole number") from None
    if value < low:
        raise ValueError(f"{name}: got {raw!r}; expected a whole number >= {low}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: got {raw!r}; expected a number of seconds >= 0") from None
    if not value >= 0:
        raise ValueError(f"{name}: got {raw!r}; expected a number of seconds >= 0")
    return value
