"""Prometheus metrics: requests and latency per route and status, the model versions each worker serves, and how
each worker counts for the rate limit.

Every label comes from a fixed set whatever a client sends (route patterns, standard methods, status codes), so no
request can add series: each new label set would cost every scrape and the multiprocess files for good.

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
RATE_LIMIT_BACKEND = Gauge("microlift_rate_limit_backend", "Workers counting the rate limit in Redis (shared) or "
                           "in their own memory (local)", ["backend"], multiprocess_mode="livesum")
RATE_LIMIT_FALLBACKS = Counter("microlift_rate_limit_fallbacks_total", "Times a worker stopped using a failing "
                               "Redis for the rate limit and counted in its own memory")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


def request_labels(route: str | None, method: str, status: int) -> tuple[str, str, str]:
    """(route, method, status) labels of an answered request: the route's pattern or `(unmatched)`, never the
    path; a standard HTTP method or `other`; a status code 100-599 or `other`."""
    return (route if route is not None else "(unmatched)", method if method in METHODS else "other",
            str(status) if 100 <= status <= 599 else "other")


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
