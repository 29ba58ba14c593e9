"""A campaign's measured sales lift: what the product sold against what it would have sold without the campaign.

The CausalImpact method: a Bayesian structural time-series model (statsmodels `UnobservedComponents`: a local level
that drifts from day to day, plus a fixed day-of-week pattern for daily sales; the level alone for weekly sales) is
fitted to the unit sales before the campaign and forecasts the counterfactual over the campaign and the weeks after
it. Incremental units are the observed units minus the counterfactual, with an interval from simulated
counterfactual paths (whole paths, so sums over a period carry an honest interval).

The model's two variances (day-to-day noise and the level's drift) are not plugged in at their best fit: they are
averaged over their posterior on a grid (a weakly informative prior on the drift's size relative to the noise),
because the drift is what makes a forecast weeks ahead uncertain and a few months of sales rarely pin it down. The
interval is for the units the campaign added on average, so it also carries the day-to-day noise of the sales
observed during and after the campaign at their own, higher level (counts: Poisson plus a swing in proportion to
the level, as large as the weeks before show).

Attributed units (codes and links) are reported beside the measured lift, never instead of it.
"""

from __future__ import annotations

import io
import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from statsmodels.tsa.statespace.structural import UnobservedComponents

from microlift.models.errors import PlanningError

MIN_PRE_WEEKS = 8
COVERAGE = 0.8
MAX_YEARS = 5                      # longer histories are refused: the work grows with them, the answer does not
STEP_DAYS = {"daily": 1, "weekly": 7}
# Grid of the posterior over the model's two variances. `DRIFT_TO_NOISE` is the level's drift variance per row
# relative to the noise's (q). Its upper bound: a level that moves a third of the day-to-day noise's sd every day
# (q 0.1) already doubles in a few weeks. Summing days into weeks multiplies q by 49 (the level's change over a
# week is 7 days' drift, counted in units per week, 7 times the units per day; the noise of 7 days adds up only
# 7 times), so weekly sales allow q up to 4.9.
DRIFT_TO_NOISE = np.logspace(-8, 1, 37)
MAX_DRIFT_TO_NOISE = {"daily": 0.1, "weekly": 4.9}
# Prior on the level's sd relative to the noise's, sqrt(q): half-normal with this scale per day (times 7 per week,
# as q is 49 times larger for weekly sales, see above). A product's usual demand moves by a few
# percent of its day-to-day noise a day; CausalImpact's default prior (level sd 1% of the series' sd) is tighter.
# On simulated campaigns (tests/models/test_measurement.py) scale 0.02 gives 73-78% coverage of the 80% interval,
# 0.05 gives 83-87%, a uniform prior up to the bound 85-91%.
DRIFT_PRIOR_SCALE = 0.03
NOISE_GRID = 9                     # noise variances around the best fit, +-4 standard errors (at least +-50%)
# Too noisy to say anything: the counterfactual over the campaign is uncertain by more than its own size (its 80%
# interval wider than twice its median) and by far more than counting small numbers would make it (over three times
# the width of Poisson noise at that median), so that no lift short of a multiple of the usual sales would show.
NOISY_WIDTH_TO_MEDIAN = 2.0
NOISY_WIDTH_TO_COUNTING = 3.0
MIN_DRAWS, MAX_DRAWS = 100, 10_000


class MeasurementRefused(PlanningError):
    """Sales that cannot measure a campaign's lift: the field is "sales", `value` what was found, `accepted` what
    would do, and the message says why in plain words."""

    def __init__(self, value, accepted: str, reason: str):
        super().__init__("sales", value, accepted, reason)


def frequency(dates) -> str:
    """"daily" or "weekly": how far apart the sales rows' dates are (one day or seven, without gaps)."""
    stamps = pd.Series(pd.to_datetime(pd.Series(dates), errors="coerce"))
    if stamps.isna().any():
        bad = pd.Series(dates)[stamps.isna()].iloc[0]
        raise PlanningError("sales.date", bad, "dates such as 2025-06-02")
    stamps = stamps.dt.normalize().sort_values()
    repeated = stamps[stamps.duplicated()]
    if len(repeated):
        raise PlanningError("sales.date", _day(repeated.iloc[0]), "one row per day or per week, each date once")
    if len(stamps) < 2:
        raise PlanningError("sales.date", len(stamps), "at least 2 dates")
    gaps = stamps.diff().dropna().dt.days.to_numpy()
    for name, step in STEP_DAYS.items():
        if (gaps == step).all():
            return name
    odd = np.flatnonzero(gaps != gaps[0])
    first = int(odd[0]) if len(odd) else 0  # the first gap unlike the others, else the first gap
    raise PlanningError("sales.date", f"{_day(stamps.iloc[first])} to {_day(stamps.iloc[first + 1])}",
                        "dates one day apart (daily) or seven days apart (weekly) without gaps; a day or week "
                        "without sales is a row with 0 units")


def _day(stamp) -> str:
    return pd.Timestamp(stamp).strftime("%Y-%m-%d")


def _sales(sales: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The sales rows sorted by date, checked: dates regular, units numbers >= 0, at most MAX_YEARS long."""
    missing = [c for c in ("date", "units") if c not in getattr(sales, "columns", ())]
    if missing:
        raise PlanningError("sales", missing, "a table with columns date and units")
    how_often = frequency(sales["date"])
    units = pd.to_numeric(sales["units"], errors="coerce")
    bad = ~np.isfinite(units.to_numpy(dtype=float)) | (units.to_numpy(dtype=float) < 0)
    if bad.any():
        raise PlanningError("sales.units", sales["units"].iloc[int(np.flatnonzero(bad)[0])],
                            "units sold: a number 0 or more on every row")
    frame = pd.DataFrame({"date": pd.to_datetime(sales["date"]).dt.normalize().to_numpy(),
                          "units": units.to_numpy(dtype=float)}).sort_values("date", ignore_index=True)
    most = int(MAX_YEARS * 365.25) // STEP_DAYS[how_often]
    if len(frame) > most:
        raise PlanningError("sales", f"{len(frame):,} {how_often} rows",
                            f"at most {MAX_YEARS} years of sales ({most:,} {how_often} rows)")
    return frame, how_often


def _period(dates: pd.Series, step: int) -> dict | None:
    if not len(dates):
        return None
    first, last = dates.iloc[0], dates.iloc[-1] + pd.Timedelta(days=step - 1)
    return {"start": _day(first), "end": _day(last), "weeks": round(len(dates) * step / 7, 2)}


def _check_campaign(start, weeks) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        begins = pd.Timestamp(start).normalize()
    except (TypeError, ValueError):
        raise PlanningError("start", start, "the campaign's first day, such as 2025-06-02") from None
    if not isinstance(weeks, numbers.Real) or isinstance(weeks, bool) or not np.isfinite(weeks) or weeks <= 0:
        raise PlanningError("weeks", weeks, "the campaign's length in weeks, a number above 0")
    return begins, begins + pd.Timedelta(days=round(float(weeks) * 7))


def _model(units: np.ndarray, how_often: str) -> UnobservedComponents:
    """Local level, plus a fixed day-of-week pattern for daily sales."""
    if how_often == "daily":
        return UnobservedComponents(units, level="local level", seasonal=7, stochastic_seasonal=False)
    return UnobservedComponents(units, level="local level")


def _posterior(model: UnobservedComponents, how_often: str) -> tuple[np.ndarray, np.ndarray]:
    """Grid of (noise variance, level variance) and each point's posterior weight: the likelihood times a
    half-normal prior on the level's sd relative to the noise's (DRIFT_PRIOR_SCALE), up to MAX_DRIFT_TO_NOISE, and
    a flat prior on the noise's log variance."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a drift of 0 sits on the boundary; the grid below covers it
        best = model.fit(disp=False)
    noise = max(float(best.params[0]), 1e-6 * max(float(np.var(model.endog)), 1e-6))
    span = max(4 * np.sqrt(2 / model.nobs), 0.5)
    noises = noise * np.exp(np.linspace(-span, span, NOISE_GRID))
    ratios = DRIFT_TO_NOISE[:np.searchsorted(DRIFT_TO_NOISE, MAX_DRIFT_TO_NOISE[how_often], side="right")]
    grid = np.array([(n, q * n) for n in noises for q in ratios])
    ratio, scale = grid[:, 1] / grid[:, 0], DRIFT_PRIOR_SCALE * STEP_DAYS[how_often]
    # half-normal on sqrt(q), on a grid even in ln q: density x Jacobian = exp(-q / 2 scale^2) x sqrt(q)
    log_prior = 0.5 * np.log(ratio) - ratio / (2 * scale ** 2)
    log_post = np.array([model.loglike(params) for params in grid]) + log_prior
    weights = np.exp(log_post - log_post.max())
    return grid, weights / weights.sum()


def _counterfactual_paths(model: UnobservedComponents, grid: np.ndarray, weights: np.ndarray, rows: int,
                          draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`draws` simulated paths of the sales without the campaign over the next `rows` rows (rows x draws), from
    parameters drawn from their posterior, and each path's noise variance."""
    counts = rng.multinomial(draws, weights)
    paths, noises = [], []
    for point in np.flatnonzero(counts):
        fitted = model.filter(grid[point], cov_type="none")  # no parameter covariance: the paths need none
        simulated = fitted.simulate(nsimulations=rows, repetitions=int(counts[point]), anchor="end", rng=rng)
        paths.append(np.asarray(simulated).reshape(rows, -1))
        noises.append(np.full(counts[point], grid[point, 0]))
    return np.concatenate(paths, axis=1), np.concatenate(noises)


def _observed_noise(observed: np.ndarray, expected: np.ndarray, level: float, noise: np.ndarray,
                    step: int) -> np.ndarray:
    """Variance (rows x draws) the observed rows' noise has beyond the counterfactual's own at their higher level:
    counts vary as Poisson plus a swing in proportion to the level (negative binomial), the swing as large as the
    weeks before show (noise beyond Poisson at the last level)."""
    level = max(level, 1e-9)
    swing = np.maximum(noise - level, 0.0) / level ** 2 if level >= 1.0 else np.zeros_like(noise)
    usual = np.maximum(expected, 0.0)
    week = max(7 // step, 1)  # the observed level: a week's average around each row
    seen = np.maximum(pd.Series(observed).rolling(week, center=True, min_periods=1).mean().to_numpy(), usual)
    return (seen - usual)[:, None] + (seen ** 2 - usual ** 2)[:, None] * swing[None, :]


def _band(values: np.ndarray, coverage: float) -> dict:
    tail = (1 - coverage) / 2
    low, mid, high = np.quantile(values, [tail, 0.5, 1 - tail])
    return {"mean": round(float(np.mean(values)), 2), "p10": round(float(low), 2), "p50": round(float(mid), 2),
            "p90": round(float(high), 2)}


def _check_noise(counterfactual_during: np.ndarray) -> None:
    """Refuse when the pre-period leaves the counterfactual over the campaign too uncertain to say anything
    (NOISY_WIDTH_TO_MEDIAN and NOISY_WIDTH_TO_COUNTING; judged at the 80% interval whatever coverage is asked)."""
    low, median, high = np.quantile(counterfactual_during, [0.1, 0.5, 0.9])
    width, counting = high - low, 2 * 1.2816 * np.sqrt(max(median, 1.0))
    if width > NOISY_WIDTH_TO_MEDIAN * max(median, 0.0) and width > NOISY_WIDTH_TO_COUNTING * counting:
        raise MeasurementRefused(
            {"p10": round(float(low), 1), "p50": round(float(median), 1), "p90": round(float(high), 1)},
            "sales before the campaign steady enough that its counterfactual's 80% interval is at most twice its "
            "median",
            f"the sales before the campaign are too noisy to say what it would have sold without it: 80% of the "
            f"likely counts over the campaign lie between {max(low, 0):,.0f} and {high:,.0f} units, a range over "
            f"twice their median ({median:,.0f})")


def measure(sales: pd.DataFrame, start, weeks: float, attributed_units: float | None = None, *,
            coverage: float = COVERAGE, draws: int = 1000, seed: int = 0) -> dict:
    """Incremental units of a campaign that started on `start` and ran `weeks` weeks, from the product's `sales`
    (columns date and units: one row per day or per week before, during and optionally after it).

    Returns bands (mean, p10, p50, p90 at `coverage`) of incremental and counterfactual units during and after the
    campaign, the observed units, the lift relative to the counterfactual, the attributed units as given, notes,
    and the series to draw (observed, and expected without the campaign with its band). Dates are "YYYY-MM-DD";
    a period's end is the last day it covers. The same inputs and seed give the same answer."""
    frame, how_often = _sales(sales)
    begins, ends = _check_campaign(start, weeks)
    if not 0.5 <= coverage < 1:
        raise PlanningError("coverage", coverage, "a share of at least 0.5 and below 1, such as 0.8")
    if not isinstance(draws, numbers.Integral) or not MIN_DRAWS <= draws <= MAX_DRAWS:
        raise PlanningError("draws", draws, f"a whole number from {MIN_DRAWS:,} to {MAX_DRAWS:,}")
    if attributed_units is not None and not (isinstance(attributed_units, numbers.Real)
                                             and np.isfinite(attributed_units) and attributed_units >= 0):
        raise PlanningError("attributed_units", attributed_units, "units sold through codes or links, 0 or more")
    step = STEP_DAYS[how_often]
    pre = frame["date"] < begins
    during = (frame["date"] >= begins) & (frame["date"] < ends)
    after = frame["date"] >= ends
    pre_weeks = pre.sum() * step / 7
    if pre_weeks < MIN_PRE_WEEKS:
        raise MeasurementRefused(
            round(float(pre_weeks), 1), f"at least {MIN_PRE_WEEKS} weeks of sales before the campaign",
            f"{pre_weeks:.1f} weeks of sales before the campaign; at least {MIN_PRE_WEEKS} are needed to learn its "
            f"usual level and weekly pattern")
    if not during.any():
        raise MeasurementRefused(
            0, f"sales rows from {_day(begins)} to {_day(ends - pd.Timedelta(days=1))}",
            f"no sales rows during the campaign ({_day(begins)} to {_day(ends - pd.Timedelta(days=1))})")
    later = (during | after).to_numpy()
    observed = frame["units"].to_numpy()
    history = observed[~later]
    rng = np.random.default_rng(seed)
    notes = []
    if not history.any():
        paths = np.zeros((int(later.sum()), draws))
        extra = np.zeros_like(paths)
        fitted = None
        notes.append("a new product: no sales before the campaign, so what it would have sold without it is 0 and "
                     "every unit sold since counts as incremental")
    else:
        model = _model(history, how_often)
        grid, weights = _posterior(model, how_often)
        paths, noise = _counterfactual_paths(model, grid, weights, int(later.sum()), draws, rng)
        fitted = model.smooth(grid[np.argmax(weights)])  # the posterior's mode, for the pre-period's series
        extra = _observed_noise(observed[later], paths.mean(axis=1), float(fitted.smoothed_state[0, -1]), noise,
                                step)
    in_during = during.to_numpy()[later]
    sums, observed_sums = {}, {}
    for name, rows in (("during", in_during), ("after", ~in_during)):
        if rows.any():
            sums[name] = np.maximum(paths[rows].sum(axis=0), 0.0)
            observed_sums[name] = float(observed[later][rows].sum())
    if fitted is not None:
        _check_noise(sums["during"])
    incremental = {name: observed_sums[name] - sums[name]
                   + rng.normal(0.0, np.sqrt(extra[rows].sum(axis=0)))
                   for name, rows in (("during", in_during), ("after", ~in_during)) if name in sums}
    total = sum(incremental.values())
    relative = None  # undefined when the counterfactual may be about 0; a draw under one unit counts as one
    if np.quantile(sums["during"], (1 - coverage) / 2) >= 1.0:
        relative = _band(incremental["during"] / np.maximum(sums["during"], 1.0), coverage)
    notes += _notes(frame, during, after, begins, ends, step, attributed_units)
    return {
        "method": "bsts",
        "model": _model_words(how_often),
        "frequency": how_often,
        "coverage": coverage,
        "periods": {"pre": _period(frame["date"][pre], step), "during": _period(frame["date"][during], step),
                    "after": _period(frame["date"][after], step)},
        "incremental_units": {"during": _band(incremental["during"], coverage),
                              "after": _band(incremental["after"], coverage) if "after" in incremental else None,
                              "total": _band(total, coverage)},
        "counterfactual_units": {"during": _band(sums["during"], coverage),
                                 "after": _band(sums["after"], coverage) if "after" in sums else None},
        "observed_units": {"during": observed_sums["during"], "after": observed_sums.get("after")},
        "relative_lift": relative,
        "attributed_units": None if attributed_units is None else float(attributed_units),
        "notes": notes,
        "series": _series(frame, later, paths, fitted, coverage),
    }


def _model_words(how_often: str) -> str:
    shape = "local level + day-of-week pattern" if how_often == "daily" else "local level"
    return (f"{shape}, statsmodels UnobservedComponents, fitted to the sales before the campaign; its noise and "
            f"drift averaged over their posterior")


def _notes(frame, during, after, begins, ends, step, attributed_units) -> list[str]:
    notes = []
    covered = during.sum() * step
    planned = (ends - begins).days
    if covered < planned:
        notes.append(f"the sales cover {covered / 7:.1f} of the campaign's {planned / 7:.1f} weeks; the rest is "
                     f"not measured")
    if not after.any():
        notes.append("no sales after the campaign: any lift that lasts beyond its end is not measured")
    if attributed_units is not None:
        notes.append("attributed units (codes and links) are shown beside the measured lift: buyers who saw a post "
                     "and bought without a code or link count in the lift, not in them")
    return notes


def _series(frame: pd.DataFrame, later: np.ndarray, paths: np.ndarray, fitted, coverage: float) -> dict:
    """Per row: observed units and the counterfactual (in-sample over the pre-period, forecast after it)."""
    tail = (1 - coverage) / 2
    expected = np.zeros(len(frame))
    low, high = np.zeros(len(frame)), np.zeros(len(frame))
    if fitted is not None:
        inside = fitted.get_prediction(information_set="smoothed")
        band = np.asarray(inside.conf_int(alpha=2 * tail))
        expected[~later], low[~later], high[~later] = inside.predicted_mean, band[:, 0], band[:, 1]
    expected[later] = paths.mean(axis=1)
    low[later], high[later] = np.quantile(paths, [tail, 1 - tail], axis=1)
    return {"date": [_day(d) for d in frame["date"]], "observed": _rounded(frame["units"]),
            "expected": _rounded(np.maximum(expected, 0.0)), "p10": _rounded(np.maximum(low, 0.0)),
            "p90": _rounded(np.maximum(high, 0.0))}


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(float(v), 2) for v in values]


def plot_png(result: dict, title: str = "") -> bytes:
    """A PNG of a measurement: observed units against the counterfactual and its band, the campaign shaded."""
    series = result["series"]
    dates = pd.to_datetime(series["date"])
    figure = Figure(figsize=(9, 4.2))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.fill_between(dates, series["p10"], series["p90"], color="tab:blue", alpha=0.2, linewidth=0,
                      label=f"without the campaign, {result['coverage']:.0%} range")
    axes.plot(dates, series["expected"], color="tab:blue", linestyle="--", linewidth=1.2, label="expected without it")
    axes.plot(dates, series["observed"], color="black", linewidth=1.0, label="observed")
    during = result["periods"]["during"]
    axes.axvspan(pd.Timestamp(during["start"]), pd.Timestamp(during["end"]) + pd.Timedelta(days=1), color="tab:orange",
                 alpha=0.15, label="campaign")
    axes.set_ylabel("units per day" if result["frequency"] == "daily" else "units per week")
    total = result["incremental_units"]["total"]
    axes.set_title(title or f"incremental units {total['p50']:,.0f} ({total['p10']:,.0f} to {total['p90']:,.0f})")
    axes.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
