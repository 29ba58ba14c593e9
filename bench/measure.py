"""Measuring one campaign's lift from two years of daily sales (target 2 s), and the track record of 1,000 measured
campaigns (target 200 ms).

A simulated product (`training/simulation/sales.py`, 1,000 units a month on Amazon) with about 21 months of daily
sales before a 4-week campaign and 8 weeks after it (730 days in all); `models.measurement.measure` with its
default 1,000 draws, the median of 5 runs after one warm-up. Baseline, measured in the same run: one maximum-
likelihood fit of the same structural model to the same pre-period (statsmodels alone), the least any measurement
with this model does; the measurement adds the posterior grid over its two variances and the simulated paths.

The track record: 1,000 measured planned campaigns (three model version sets, twelve months) stored in a fresh
SQLite catalog database (or the empty one `--database-url` names, e.g. a PostgreSQL database made for it), then
`GET /v1/track-record`'s work: the SQL read (`campaigns.track_record_rows`) and the
figures (`track_record.summarise`), the median of 5 runs.

    python bench/measure.py            # two years of daily sales
    python bench/measure.py --tiny     # 30 weeks, for the smoke test
    python bench/measure.py --check    # exit 1 when the median misses the target
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from microlift.models import measurement, track_record
from microlift.serving import campaigns, catalog
from microlift.training.simulation.sales import campaign_sales

TARGET_SECONDS = 2.0
TRACK_RECORD_TARGET_SECONDS = 0.2


def _once(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def two_years_of_sales(pre_weeks: float = 646 / 7) -> tuple[pd.DataFrame, dict]:
    """Daily sales around a 4-week campaign: `pre_weeks` before (about 21 months by default) and 8 weeks after."""
    campaign = {"start_date": "2025-06-02", "weeks": 4, "baseline_units_per_month": 1000.0, "marketplace": "amazon"}
    return campaign_sales(campaign, 1500.0, np.random.default_rng(0), pre_weeks=pre_weeks, after_weeks=8)


def bench_measurement(sales: pd.DataFrame, start: str = "2025-06-02", weeks: float = 4,
                      repeats: int = 5) -> dict:
    """Median seconds of `measure` over `repeats` runs after a warm-up, and of its baseline fit."""
    before = sales.loc[sales["date"] < pd.Timestamp(start), "units"].to_numpy(dtype=float)

    def fit_once():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            measurement._model(before, "daily").fit(disp=False)

    def measure_once():
        measurement.measure(sales, start, weeks)

    fit_once(), measure_once()  # warm-up
    runs = [(_once(fit_once), _once(measure_once)) for _ in range(repeats)]
    return {"days": len(sales), "fit_s": statistics.median(f for f, _ in runs),
            "measure_s": statistics.median(m for _, m in runs)}


def stored_campaigns(engine, n: int, seed: int = 0) -> None:
    """`n` measured planned campaigns, written straight into the catalog's tables (what imports would leave)."""
    rng = np.random.default_rng(seed)
    plans, measured = [], []
    for i in range(n):
        median = float(rng.lognormal(7, 1))
        forecast = {"mean": median * 1.1, "p10": median * 0.5, "p50": median, "p90": median * 1.9}
        truth = median * float(rng.lognormal(0, 0.5))
        during = {"mean": truth, "p10": truth * 0.7, "p50": truth, "p90": truth * 1.3}
        month = f"2026-{1 + i % 12:02d}-15T10:00:00.000000+00:00"
        versions = {"engagement": 1 + i % 3, "conversion": 1 + i % 3, "lift": 1 + i % 3, "posting": 1 + i % 3}
        plans.append({"id": f"cmp-{i:012x}", "brand": f"brand{i % 40}", "created_at": month, "unplanned": False,
                      "brief": json.dumps({"niche": "home", "product_price": 20, "baseline_units_per_month": 500}),
                      "budget": 5000.0, "niche": "home", "model_versions": json.dumps(versions), "weeks": 4.0,
                      **{f"forecast_{q}": v for q, v in forecast.items()}})
        measured.append({"campaign_id": f"cmp-{i:012x}", "status": "measured", "measured_at": month,
                         "result": json.dumps({"incremental_units": {"during": during}}),
                         "attributed_units": truth / 4, **{f"during_{q}": v for q, v in during.items()}})
    with engine.begin() as conn:
        conn.execute(catalog.campaigns.insert(), plans)
        conn.execute(catalog.campaign_measurements.insert(), measured)


def bench_track_record(url: str, n: int = 1000, repeats: int = 5) -> dict:
    """Median seconds of the track record (SQL read and figures) over `n` stored campaigns, after a warm-up."""
    catalog.migrate(url)
    engine = catalog.engine_for(url)
    try:
        stored_campaigns(engine, n)

        def once():
            return track_record.summarise(campaigns.track_record_rows(engine))

        answer = once()
        runs = [_once(once) for _ in range(repeats)]
    finally:
        engine.dispose()
    return {"campaigns": answer["campaigns"], "inside_80": answer["inside_80"], "seconds": statistics.median(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="30 weeks of sales, for the smoke test")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--database-url", help="an empty catalog database for the track record (default: a new "
                        "SQLite file in a temporary folder)")
    args = parser.parse_args()
    sales, truth = two_years_of_sales(30 if args.tiny else 646 / 7)
    figures = bench_measurement(sales, repeats=2 if args.tiny else 5)
    result = measurement.measure(sales, "2025-06-02", 4)
    total = result["incremental_units"]["total"]
    print(f"{figures['days']:,} days of daily sales ({result['periods']['pre']['weeks']:.0f} weeks before a 4-week "
          f"campaign, 8 after); true incremental units {truth['incremental_total']:,.0f}, measured "
          f"{total['p50']:,.0f} ({total['p10']:,.0f} to {total['p90']:,.0f})")
    print(f"one fit of the model (baseline): {figures['fit_s'] * 1000:,.0f} ms; measure: "
          f"{figures['measure_s'] * 1000:,.0f} ms ({figures['measure_s'] / figures['fit_s']:.1f}x the fit)")
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'catalog.db'}"
        record = bench_track_record(url, 100 if args.tiny else 1000)
    print(f"track record of {record['campaigns']:,} measured campaigns ({url.split(':')[0]}): "
          f"{record['seconds'] * 1000:,.1f} ms (target {TRACK_RECORD_TARGET_SECONDS * 1000:g} ms; "
          f"{record['inside_80']:.0%} inside the 80% range)")
    track_ratio = record["seconds"] / TRACK_RECORD_TARGET_SECONDS
    print(f"ratio track record / target {TRACK_RECORD_TARGET_SECONDS * 1000:g} ms: {track_ratio:.2f}")
    ratio = figures["measure_s"] / TARGET_SECONDS
    print(f"ratio measure / target {TARGET_SECONDS:g} s: {ratio:.2f}")
    if args.check and max(ratio, track_ratio) > 1:
        sys.exit(1)


if __name__ == "__main__":
    main()
