"""Service against MLflow's own scoring server: the same candidates, the same number of workers.

Baseline: `mlflow models serve` of the registered engagement model alone (POST /invocations, `dataframe_split`),
measured in the same run. microlift's `POST /v1/rank` gets the same creators inline and does more: both models,
p10/p50/p90 ranges, costs, ranking and the reasons of the top 50. Requests alternate between the two servers, one
client, one connection per request (keep-alive to MLflow's uvicorn stalls ~40 ms on small answers: see
`_service.post_fresh`), after a warm-up. Target: microlift p50 / MLflow p50 <= 1.0 at 1,000 candidates.

microlift predicts with its boosters compiled to machine code (lleaves, the service's default); MLflow's pyfunc
predicts with LightGBM, as it serves any registered model. The `uncompiled` columns are a third server, microlift
with MICROLIFT_COMPILED_MODELS=off, to show what compiling buys.

    python bench/serve_vs_mlflow.py            # 1, 100 and 1,000 candidates, 2 workers each
    python bench/serve_vs_mlflow.py --tiny     # seconds, for the smoke test
"""

from __future__ import annotations

import argparse

from _service import (
    as_json,
    as_served,
    creator_records,
    load_average,
    microlift_serve,
    mlflow_serve,
    p50_p95,
    post_fresh,
    prepared_home,
    print_table,
    scratch,
)

from microlift.models import features as F
from microlift.models.brief import Brief
from microlift.models.candidates import candidate_rows
from microlift.models.datasets import load_candidates

BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 600, "compensation": "gifting",
         "marketplace": "amazon", "weeks": 8}


def mlflow_body(records: list[dict]) -> bytes:
    """The engagement model's raw inputs for these creators under the brief, as MLflow's `dataframe_split`."""
    rows = candidate_rows(Brief.from_mapping(BRIEF), as_served(records)).frame()
    rows["format"] = rows["platform"].map(F.DEFAULT_FORMAT)
    frame = rows[F.RAW_INPUTS["engagement"]]
    return as_json({"dataframe_split": {"columns": list(frame.columns),
                                        "data": frame.astype(object).where(frame.notna(), None).values.tolist()}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    parser.add_argument("--workers", type=int, default=None, help="workers of each server (default: 2; tiny: 1)")
    args = parser.parse_args()
    workers = args.workers or (1 if args.tiny else 2)
    requests_per_size = {1: 5, 100: 5, 1_000: 5} if args.tiny else {1: 300, 100: 200, 1_000: 100}
    warmup = 1 if args.tiny else 10
    home = prepared_home(*((1_500, 40) if args.tiny else (8_000, 200)))
    creators = load_candidates(home.data).sample(frac=1.0, random_state=0).reset_index(drop=True)
    run_dir = scratch("microlift-bench-serve-")
    rows = []
    with (microlift_serve(home, run_dir / "compiled", workers) as ours,
          microlift_serve(home, run_dir / "lightgbm", workers, MICROLIFT_COMPILED_MODELS="off") as plain,
          mlflow_serve(home, run_dir, "engagement", workers) as theirs):
        for n, count in requests_per_size.items():
            records = creator_records(creators.head(n))
            rank = as_json({"brief": BRIEF, "candidates": records, "top_k": 50})
            calls = {"mlflow": (theirs.base + "/invocations", mlflow_body(records)),
                     "microlift": (ours.base + "/v1/rank", rank), "lightgbm": (plain.base + "/v1/rank", rank)}
            for _ in range(warmup):
                for url, body in calls.values():
                    post_fresh(url, body)
            times = {name: [] for name in calls}
            for _ in range(count):  # in turn, so all see the same background load
                for name, (url, body) in calls.items():
                    times[name].append(post_fresh(url, body))
            (m50, m95), (u50, u95), (l50, _) = (p50_p95(times[k]) for k in ("mlflow", "microlift", "lightgbm"))
            rows.append({"candidates": n, "requests": count, "mlflow_p50_ms": m50, "mlflow_p95_ms": m95,
                         "microlift_p50_ms": u50, "microlift_p95_ms": u95, "p50_ratio": u50 / m50,
                         "uncompiled_p50_ms": l50, "uncompiled_ratio": l50 / m50})
    print(f"{workers} worker(s) each; {load_average()}")
    print_table(rows)
    last = rows[-1]
    print(f"ratio microlift p50 / MLflow p50 at {last['candidates']:,} candidates: {last['p50_ratio']:.2f} "
          f"(target <= 1.0)")


if __name__ == "__main__":
    main()
