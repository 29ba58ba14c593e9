"""Measuring one campaign's lift from two years of daily sales: time against the 2 s target.

A simulated product (`training/simulation/sales.py`, 1,000 units a month on Amazon) with about 21 months of daily
sales before a 4-week campaign and 8 weeks after it (730 days in all); `models.measurement.measure` with its
default 1,000 draws, the median of 5 runs after one warm-up. Baseline, measured in the same run: one maximum-
likelihood fit of the same structural model to the same pre-period (statsmodels alone), the least any measurement
with this model does; the measurement adds the posterior grid over its two variances and the simulated paths.

    python bench/measure.py            # two years of daily sales
    python bench/measure.py --tiny     # 30 weeks, for the smoke test
    python bench/measure.py --check    # exit 1 when the median misses the target
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd

from microlift.models import measurement
from microlift.training.simulation.sales import campaign_sales

TARGET_SECONDS = 2.0


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="30 weeks of sales, for the smoke test")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
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
    ratio = figures["measure_s"] / TARGET_SECONDS
    print(f"ratio measure / target {TARGET_SECONDS:g} s: {ratio:.2f}")
    if args.check and ratio > 1:
        sys.exit(1)


if __name__ == "__main__":
    main()
