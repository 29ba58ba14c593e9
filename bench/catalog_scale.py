"""Catalog scale: `POST /v1/rank` with filters matching every creator of catalogs of 10k, 100k and 1M creators.

Baseline, measured in the same run and alternating with the requests: predicting both models in-process on the
same rows (the worker's own catalog snapshot, the brief's fields joined): the shared feature matrices and the
engagement and conversion predictions (`models.candidates.shared_matrices`, `predict_log`, `predict_mean`) with
the boosters compiled as the service compiles them. The service adds intervals, costs, ranking, the top 50's
reasons, and HTTP. Also shown: the in-process `score` + `rank` (the engine alone), LightGBM's own predict on
prebuilt matrices, the worker's memory (RSS) once ready and after 100 requests, and the start-up time (process start
to /readyz 200: gunicorn, the models and the catalog loaded). Catalogs come from the simulator's creator model,
imported with `microlift import-creators` (a creators file: no post history).

Targets: service p50 / baseline p50 <= 1.2 at 1M; log-log slope of the service's time against rows <= 1.05 from
100k to 1M; worker memory <= 60 MB per 100k creators, once ready and after 100 requests alike.

    python bench/catalog_scale.py            # 10k, 100k and 1M creators (minutes: the 1M import and requests)
    python bench/catalog_scale.py --repeats 3  # three times the timed requests (9 at 1M): a steadier median
    python bench/catalog_scale.py --tiny     # seconds, for the smoke test
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import requests
from _service import (
    as_json,
    load_average,
    load_models,
    microlift,
    microlift_serve,
    p50_p95,
    post,
    prepared_home,
    print_table,
    rss_mb,
    scratch,
)

from microlift.models.brief import Brief
from microlift.models.candidates import candidate_rows, score, shared_matrices
from microlift.models.contract import TABLES
from microlift.models.ranking import rank
from microlift.models.settings import process_environment
from microlift.serving import catalog
from microlift.training.simulation.generator import DEFAULT, sample_creators

MEMORY_REQUESTS = 100  # `/v1/rank` requests (all creators, top 50) before the worker's memory is read again
BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 600, "compensation": "gifting",
         "marketplace": "amazon", "weeks": 8}


def write_catalog(home, run_dir, n: int) -> str:
    """A catalog database of `n` simulated creators, imported through the command line; its URL."""
    creators = sample_creators(n, np.random.default_rng(n), DEFAULT)
    path = run_dir / f"creators-{n}.parquet"
    creators[[c.name for c in TABLES["creators"].columns]].to_parquet(path, index=False)
    url = f"sqlite:///{run_dir / f'catalog-{n}.db'}"
    microlift(home.env(run_dir, DATABASE_URL=url), "import-creators", path)
    path.unlink()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    parser.add_argument("--repeats", type=int, default=1,
                        help="times the timed requests of every size (default 1: 15, 7 and 3), for a steadier p50")
    args = parser.parse_args()
    process_environment()  # as the service runs: BLAS on one thread
    sizes = {500: 2, 2_000: 2} if args.tiny else {10_000: 15, 100_000: 7, 1_000_000: 3}  # size: timed requests
    sizes = {n: count * max(args.repeats, 1) for n, count in sizes.items()}
    served = 5 if args.tiny else MEMORY_REQUESTS  # requests before the memory is read again (timed ones included)
    home = prepared_home(*((1_500, 40) if args.tiny else (8_000, 200)))
    models = load_models(home)
    brief = Brief.from_mapping(BRIEF)
    body = as_json({"brief": BRIEF, "filters": {}, "top_k": 50})
    run_dir = scratch("microlift-bench-catalog-")
    rows = []
    for n, count in sizes.items():
        started = time.perf_counter()
        url = write_catalog(home, run_dir, n)
        imported = time.perf_counter() - started
        snap = catalog.snapshot(catalog.engine_for(url))  # what the worker holds
        context = candidate_rows(brief, snap.creators)
        X_e, X_c = shared_matrices(models, context)

        def predict(context=context):
            X_e, X_c = shared_matrices(models, context)
            models["engagement"].predict_log(context, X_e)
            models["conversion"].predict_mean(context, X_c)

        def lightgbm(X_e=X_e, X_c=X_c):
            models["engagement"].booster_.predict(X_e)
            models["conversion"].booster_.predict(X_c)

        def engine(creators=snap.creators):
            rank(brief, creators, score(brief, creators, models), models, None, 50)

        times: dict[str, list[float]] = {"service": [], "predict": [], "lightgbm": [], "engine": []}
        with microlift_serve(home, run_dir, 1, DATABASE_URL=url, MICROLIFT_TIMEOUT="1800") as server, \
                requests.Session() as session:
            rss_ready = sum(rss_mb(pid) for pid in server.worker_pids())
            for _ in range(count + 1):  # the first round warms up
                for name, fn in (("predict", predict), ("lightgbm", lightgbm), ("engine", engine)):
                    started = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - started)
                times["service"].append(post(session, server.base + "/v1/rank", body))
            for _ in range(served - len(times["service"])):
                post(session, server.base + "/v1/rank", body)
            rss = sum(rss_mb(pid) for pid in server.worker_pids())
            start_seconds = server.start_seconds
        p50 = {name: p50_p95(values[1:])[0] for name, values in times.items()}
        rows.append({"creators": n, "import_s": imported, "start_s": start_seconds, "rss_ready_mb": rss_ready,
                     f"rss_after_{served}_mb": rss, "service_p50_ms": p50["service"],
                     "service_p95_ms": p50_p95(times["service"][1:])[1], "engine_p50_ms": p50["engine"],
                     "predict_p50_ms": p50["predict"], "lightgbm_p50_ms": p50["lightgbm"],
                     "service/predict": p50["service"] / p50["predict"],
                     "engine/predict": p50["engine"] / p50["predict"]})
        del snap, context, X_e, X_c
    print(f"1 worker; timed requests per size {', '.join(f'{n:,}: {c}' for n, c in sizes.items())} after one "
          f"warm-up, {served} requests in all before the memory is read again; {load_average()}")
    print_table(rows)
    n = np.array([r["creators"] for r in rows], dtype=float)
    slope = np.polyfit(np.log(n), np.log([r["service_p50_ms"] for r in rows]), 1)[0]
    slope_predict = np.polyfit(np.log(n), np.log([r["predict_p50_ms"] for r in rows]), 1)[0]
    per_100k = {name: (rows[-1][name] - rows[0][name]) / ((n[-1] - n[0]) / 100_000)
                for name in ("rss_ready_mb", f"rss_after_{served}_mb")}
    local = {name: np.log(rows[-1][name] / rows[-2][name]) / np.log(n[-1] / n[-2])
             for name in ("service_p50_ms", "predict_p50_ms", "lightgbm_p50_ms")}
    print(f"log-log slope of service time against creators: {slope:.2f} over all sizes, "
          f"{local['service_p50_ms']:.2f} from {n[-2]:,.0f} to {n[-1]:,.0f} (target <= 1.05; predict alone "
          f"{slope_predict:.2f} and {local['predict_p50_ms']:.2f}, LightGBM alone {local['lightgbm_p50_ms']:.2f})")
    print(f"worker memory per 100k creators: ready {per_100k['rss_ready_mb']:,.0f} MB, after {served} requests "
          f"{per_100k[f'rss_after_{served}_mb']:,.0f} MB (target <= 60; RSS, {rows[0]['creators']:,} to "
          f"{rows[-1]['creators']:,}); start-up at {rows[-1]['creators']:,}: {rows[-1]['start_s']:.1f} s")
    print("ratio service p50 / predict p50: " + ", ".join(f"{r['service/predict']:.2f} at {r['creators']:,}"
                                                         for r in rows[1:]) + f" (target <= 1.2 at {n[-1]:,.0f})")


if __name__ == "__main__":
    main()
