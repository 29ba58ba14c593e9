"""Engine speed: ranking against the models' raw predictions on the same rows, and the forecast's latency.

Baselines are measured in the same run: `raw` is the models' raw predictions on prebuilt float32 matrices of the
same candidates: LightGBM's own predict of the engagement, conversion and posting boosters, and the conversion
model's log-linear base rate its booster starts from (no features, no ranges, no reasons). Each rank run follows
its own raw run, and the ratio printed is the median of those pairs' ratios (other processes' load shifts both).
Rank and forecast go through the planning service (`models/planning.py`), as the service and the command line call
them; the forecast includes scoring its pool.
Targets: rank / raw <= 1.3 at 100k candidates; forecast (1,000 draws, 9-point budget curve, 1k pool) <= 300 ms.

    python bench/engine.py            # 1k and 100k candidates
    python bench/engine.py --tiny     # a few seconds, for the smoke test
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from microlift.models import features as F
from microlift.models import planning
from microlift.models.brief import Brief
from microlift.models.candidates import candidate_rows, offer_ratio
from microlift.models.datasets import Dataset
from microlift.models.settings import process_environment
from microlift.training.prepare import prepare
from microlift.training.simulation.generator import simulate
from microlift.training.train import train_all


def _once(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    return statistics.median(_once(fn) for _ in range(repeats))


def paired(baseline, fn, repeats: int) -> tuple[float, float, float]:
    """Medians of the baseline's and fn's times and of their ratio, each run right after its baseline run, so
    that load from other processes weighs on both sides of each ratio alike."""
    baseline(), fn()  # warm-up
    runs = [(_once(baseline), _once(fn)) for _ in range(repeats)]
    return (statistics.median(b for b, _ in runs), statistics.median(f for _, f in runs),
            statistics.median(f / b for b, f in runs))


def catalog(creators: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    picked = creators.sample(n, replace=n > len(creators), random_state=seed).reset_index(drop=True)
    return picked.assign(creator_id=[f"b{i:07d}" for i in range(n)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    args = parser.parse_args()
    process_environment()  # as the service and the command line run: BLAS on one thread
    sizes = (200, 2_000) if args.tiny else (1_000, 100_000)
    repeats = 2 if args.tiny else 7
    tables = simulate(1_500 if args.tiny else 8_000, 40 if args.tiny else 200, seed=1, progress=False)
    dataset = Dataset.of(tables)
    models = train_all(prepare(dataset), progress=False).models
    creators = F.with_track_record(F.with_history(dataset.creators, F.creator_history(dataset.posts,
                                                                                      dataset.creators)),
                                   F.creator_track_record(dataset.posts, dataset.creators))
    brief = Brief.from_mapping({"niche": "home", "product_price": 25.0, "baseline_units_per_month": 600,
                                "compensation": "gifting", "marketplace": "amazon", "weeks": 8})
    rows = []
    for n in sizes:
        pool = catalog(creators, n)
        context = candidate_rows(brief, pool)
        X_e = F.matrix("engagement", context, models["engagement"].features_)
        X_c = F.matrix("conversion", context, models["conversion"].features_)
        offered = context.assign(offer_ratio=offer_ratio(context, models["conversion"].predict_mean(context, X_c)))
        X_p = F.matrix("posting", offered, models["posting"].features_)

        def raw(X_e=X_e, X_c=X_c, X_p=X_p):
            models["engagement"].booster_.predict(X_e)
            models["conversion"].booster_.predict(X_c)
            models["conversion"].base_(X_c)
            models["posting"].booster_.predict(X_p)

        def ranked(pool=pool):
            planning.rank(planning.RankRequest(brief, top_k=50), pool, models, {})

        t_raw, t_rank, ratio = paired(raw, ranked, repeats)
        rows.append({"pool": n, "raw_predict_ms": t_raw * 1000, "rank_ms": t_rank * 1000, "rank/raw": ratio})
    table = pd.DataFrame(rows)
    small = catalog(creators, sizes[0])
    asked = planning.ForecastRequest(brief, 10_000.0, draws=1_000)
    t_forecast = timed(lambda: planning.forecast(asked, small, models, {}), repeats)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(f"\nforecast, {sizes[0]:,} candidates, 1,000 draws, 9-point curve: {t_forecast * 1000:,.0f} ms "
          f"(target <= 300 ms)")
    print(f"ratio rank/raw at {sizes[-1]:,} candidates: {table['rank/raw'].iloc[-1]:.2f} (target <= 1.3)")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
