"""The service's configuration, read from environment variables in this one place (beside the model settings of
`microlift.models.settings`, which the service reads too).

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

from microlift.models.settings import Settings, read_int, read_seconds


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
            workers=read_int(env, "MICROLIFT_WORKERS", os.cpu_count() or 1),
            threads=read_int(env, "MICROLIFT_THREADS", 4),
            timeout=read_int(env, "MICROLIFT_TIMEOUT", 120),
            max_body_bytes=read_int(env, "MICROLIFT_MAX_BODY_BYTES", 8 << 20),
            max_import_bytes=read_int(env, "MICROLIFT_MAX_IMPORT_BYTES", 256 << 20),
            sync_seconds=read_seconds(env, "MICROLIFT_SYNC_SECONDS", 0.0),
            rate_limit=read_int(env, "MICROLIFT_RATE_LIMIT", 600, low=0),
            redis_url=env.get("REDIS_URL") or None,
            request_deadline=read_seconds(env, "MICROLIFT_REQUEST_DEADLINE", 30.0),
        )
