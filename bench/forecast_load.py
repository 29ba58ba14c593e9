"""Forecast under load: `POST /v1/forecast` with one client and with 8 concurrent clients.

Baseline: the planning service's forecast in process (`models.planning.forecast`: scoring the pool with both models,
the roster, the draws and the curve) on the same pool, with the models the service loads, measured in the same run,
alternating with the single client's requests so both see the same background load. The service adds parsing
1,000 inline creators, validating them and the JSON answer.
Pool: 1,000 creators inline; 1,000 draws; the default budget curve (the budget and 8 more, 0.25x to 4x).

    python bench/forecast_load.py            # 60 requests alone, 8 clients x 8 requests, 2 workers
    python bench/forecast_load.py --tiny     # seconds, for the smoke test
"""

from __future__ import annotations

import argparse
import threading
import time

import requests
from _service import (
    as_json,
    as_served,
    creator_records,
    load_average,
    load_models,
    microlift_serve,
    p50_p95,
    post,
    prepared_home,
    print_table,
    scratch,
)

from microlift.models import planning
from microlift.models.brief import Brief
from microlift.models.datasets import load_candidates

BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 600, "compensation": "gifting",
         "marketplace": "amazon", "weeks": 8}
BUDGET = 10_000.0
POOL = 1_000


def concurrent(url: str, body: bytes, clients: int, each: int) -> tuple[list[float], float]:
    """Every request's seconds, and the wall seconds for all of them, with `clients` threads sending `each`."""
    times: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client():
        try:
            with requests.Session() as session:
                for _ in range(each):
                    seconds = post(session, url, body)
                    with lock:
                        times.append(seconds)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return times, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    args = parser.parse_args()
    workers, clients = 2, 8
    alone, each, warmup = (3, 1, 1) if args.tiny else (60, 8, 3)
    draws = 100 if args.tiny else 1_000
    home = prepared_home(*((1_500, 40) if args.tiny else (8_000, 200)))
    records = creator_records(load_candidates(home.data).sample(POOL, random_state=0))
    body = as_json({"brief": BRIEF, "budget": BUDGET, "candidates": records, "draws": draws})
    models = load_models(home)
    request = planning.ForecastRequest(Brief.from_mapping(BRIEF), BUDGET, draws=draws)
    pool = as_served(records)

    def in_process():
        planning.forecast(request, pool, models, {})

    with microlift_serve(home, scratch("microlift-bench-forecast-"), workers) as server, \
            requests.Session() as session:
        url = server.base + "/v1/forecast"
        for _ in range(warmup):
            in_process()
            post(session, url, body)
        baseline, single = [], []
        for _ in range(alone):
            started = time.perf_counter()
            in_process()
            baseline.append(time.perf_counter() - started)
            single.append(post(session, url, body))
        loaded, wall = concurrent(url, body, clients, each)
    (b50, b95), (s50, s95), (c50, c95) = p50_p95(baseline), p50_p95(single), p50_p95(loaded)
    rows = [
        {"what": "in-process forecast()", "clients": 1, "requests": alone, "p50_ms": b50, "p95_ms": b95,
         "req_per_s": 1000 / b50},
        {"what": "POST /v1/forecast", "clients": 1, "requests": alone, "p50_ms": s50, "p95_ms": s95,
         "req_per_s": 1000 / s50},
        {"what": "POST /v1/forecast", "clients": clients, "requests": len(loaded), "p50_ms": c50, "p95_ms": c95,
         "req_per_s": len(loaded) / wall},
    ]
    print(f"pool {POOL:,} inline creators, {draws:,} draws, 9-point budget curve; {workers} workers; "
          f"{load_average()}")
    print_table(rows)
    print(f"throughput with {clients} clients: {len(loaded) / wall:.2f} req/s "
          f"({len(loaded) / wall * b50 / 1000:.2f}x one in-process forecast loop)")
    print(f"ratio service p50 / in-process p50 (1 client): {s50 / b50:.2f}")


if __name__ == "__main__":
    main()
