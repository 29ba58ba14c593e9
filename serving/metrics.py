"""Prometheus metrics: requests and latency per route and status, and the model versions each worker serves.

Under gunicorn every worker writes its samples to PROMETHEUS_MULTIPROC_DIR (set by `microlift serve`) and
GET /metrics adds them up; in a single process the default registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("microlift_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram("microlift_request_seconds", "Time to answer an HTTP request (seconds)",
                    ["route", "method", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
MODEL = Gauge("microlift_model_loaded", "1 for the registered model version a worker serves",
              ["kind", "version"], multiprocess_mode="livemax")
RELOADS = Counter("microlift_model_reloads_total", "Model reloads by outcome (reloaded, unchanged, refused)",
                  ["outcome"])
CATALOG = Gauge("microlift_catalog_creators", "Creators in the in-memory catalog", multiprocess_mode="livemax")


def serving(previous: dict[str, str] | None, current: dict[str, str]) -> None:
    """Record a model swap."""
    for kind, version in (previous or {}).items():
        if current.get(kind) != version:
            MODEL.labels(kind, version).set(0)
    for kind, version in current.items():
        MODEL.labels(kind, version).set(1)


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
