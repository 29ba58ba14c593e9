"""A product's daily unit sales around a campaign, as a brand's Shopify or Amazon report would show them.

Baseline demand wanders (a random walk in ln level), sells more on some weekdays than others, and is counted in
whole units with day-to-day noise; the campaign adds its lift while it runs and a fading carryover after it
(config: weekday_multipliers, daily_drift_sd, daily_sales_shape, carryover_daily_retention). The truth returned
beside the sales is the expected lift the campaign added, the figure a measurement of the lift should recover.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from microlift.models.economics import DAYS_PER_MONTH
from microlift.training.simulation.config import DEFAULT, SimulationConfig

FREQUENCIES = ("daily", "weekly")


def campaign_days(campaign: Mapping, pre_weeks: float, after_weeks: float,
                  frequency: str = "daily") -> pd.DataFrame:
    """Every day of the sales report: its date and period ("pre", "during", "after").

    The campaign runs from `start_date` for `weeks` weeks (end exclusive). Weekly reports start the pre-period a
    whole number of weeks before the campaign, so that the campaign starts a reported week."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency: got {frequency!r}; expected one of {', '.join(FREQUENCIES)}")
    start = pd.Timestamp(campaign["start_date"]).normalize()
    pre_days = round(pre_weeks * 7)
    if frequency == "weekly":
        pre_days = 7 * int(np.ceil(pre_days / 7))
    during_days = max(round(float(campaign["weeks"]) * 7), 1)
    after_days = round(after_weeks * 7)
    if frequency == "weekly":  # whole weeks to the end, so that the last reported week is a full one
        after_days += -(during_days + after_days) % 7
    dates = pd.date_range(start - pd.Timedelta(days=pre_days), periods=pre_days + during_days + after_days, freq="D")
    period = np.repeat(["pre", "during", "after"], [pre_days, during_days, after_days])
    return pd.DataFrame({"date": dates, "period": period})


def baseline_path(days: int, baseline_units_per_month: float, rng: np.random.Generator,
                  cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Expected units per day without the campaign, before the weekday pattern: the baseline times a mean-one
    random walk in ln level (`daily_drift_sd` per day)."""
    steps = rng.normal(-cfg.daily_drift_sd ** 2 / 2, cfg.daily_drift_sd, days)
    return baseline_units_per_month / DAYS_PER_MONTH * np.exp(np.cumsum(steps))


def lift_path(period: np.ndarray, incremental_units_per_month: float, marketplace: str,
              cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Expected extra units per day from the campaign, before the weekday pattern: flat while it runs, then fading
    by the marketplace's daily retention (`carryover_daily_retention`) on every day after it."""
    daily = incremental_units_per_month / DAYS_PER_MONTH
    retention = cfg.carryover_daily_retention.get(marketplace, cfg.carryover_daily_retention["other"])
    days_after = np.cumsum(period == "after")
    return np.select([period == "during", period == "after"], [daily, daily * retention ** days_after], 0.0)


def daily_units(expected: np.ndarray, rng: np.random.Generator, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Whole units sold each day: negative binomial around the expected units (`daily_sales_shape`)."""
    shape = cfg.daily_sales_shape
    return rng.poisson(expected * rng.gamma(shape, 1.0 / shape, len(expected)))


def campaign_sales(campaign: Mapping, incremental_units_per_month: float, rng: np.random.Generator,
                   cfg: SimulationConfig = DEFAULT, pre_weeks: float = 16, after_weeks: float = 8,
                   frequency: str = "daily") -> tuple[pd.DataFrame, dict]:
    """The product's unit sales before, during and after a campaign, and the campaign's true incremental units.

    `campaign` gives start_date, weeks, baseline_units_per_month and marketplace; `incremental_units_per_month` is
    the lift the campaign realized while it ran (units per month, brand world and campaign noise included).
    Returns the sales (date, units: whole units per day, or per week starting at the first reported day) and the
    truth: the expected extra units the campaign added during it, in the `after_weeks` after it and in all
    ("incremental_during", "incremental_after", "incremental_total"), counted by the reported rows' periods, and
    "baseline_path", the expected units per reported row without the campaign."""
    days = campaign_days(campaign, pre_weeks, after_weeks, frequency)
    period = days["period"].to_numpy()
    weekday = np.asarray(cfg.weekday_multipliers, dtype=float)[days["date"].dt.day_of_week.to_numpy()]
    baseline = baseline_path(len(days), float(campaign["baseline_units_per_month"]), rng, cfg) * weekday
    lift = lift_path(period, float(incremental_units_per_month), campaign.get("marketplace") or "other", cfg) * weekday
    frame = days.assign(units=daily_units(baseline + lift, rng, cfg), lift=lift, baseline=baseline)
    if frequency == "weekly":
        frame = frame.groupby(np.arange(len(frame)) // 7).agg(
            date=("date", "first"), period=("period", "first"), units=("units", "sum"), lift=("lift", "sum"),
            baseline=("baseline", "sum"))
    sums = frame.groupby("period")["lift"].sum()
    truth = {"incremental_during": float(sums.get("during", 0.0)), "incremental_after": float(sums.get("after", 0.0)),
             "baseline_path": frame["baseline"].to_numpy()}
    truth["incremental_total"] = truth["incremental_during"] + truth["incremental_after"]
    return frame[["date", "units"]].reset_index(drop=True), truth
