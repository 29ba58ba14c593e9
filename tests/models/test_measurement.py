"""The measured lift: refusals with reasons, a new product, the answer's shape, and honest intervals on simulated
campaigns (the 80% interval of incremental units contains the true incremental units 72-88% of the time)."""

import numpy as np
import pandas as pd
import pytest

from microlift.models.errors import PlanningError
from microlift.models.measurement import MIN_PRE_WEEKS, MeasurementRefused, frequency, measure, plot_png
from microlift.training.simulation.sales import campaign_sales

START = "2025-06-02"


def _campaign(baseline=600.0, weeks=4, marketplace="shopify"):
    return {"start_date": START, "weeks": weeks, "baseline_units_per_month": baseline, "marketplace": marketplace}


def _sales(pre_weeks=16, after_weeks=4, lift=900.0, seed=0, **campaign):
    return campaign_sales(_campaign(**campaign), lift, np.random.default_rng(seed), pre_weeks=pre_weeks,
                          after_weeks=after_weeks)


def test_seven_weeks_before_the_campaign_are_refused_with_the_weeks_named():
    # given sales that start seven weeks before the campaign
    sales, _ = _sales(pre_weeks=7)
    # when / then
    with pytest.raises(MeasurementRefused) as refused:
        measure(sales, START, 4)
    assert refused.value.field == "sales" and refused.value.value == 7.0
    assert "7.0 weeks of sales before the campaign" in str(refused.value)
    assert f"at least {MIN_PRE_WEEKS}" in refused.value.accepted


def test_a_campaign_without_sales_rows_is_refused():
    sales, _ = _sales(after_weeks=0)
    with pytest.raises(MeasurementRefused, match="no sales rows during the campaign"):
        measure(sales[sales["date"] < pd.Timestamp(START)], START, 4)


def test_irregular_or_repeated_dates_name_the_dates():
    # given daily sales with a missing day, and with a repeated day
    sales, _ = _sales()
    gap, repeated = sales.drop(index=20), pd.concat([sales, sales.iloc[[5]]])
    # then
    with pytest.raises(PlanningError) as missing:
        measure(gap, START, 4)
    assert missing.value.field == "sales.date" and "0 units" in missing.value.accepted
    assert missing.value.value == f"{sales['date'].iloc[19]:%Y-%m-%d} to {sales['date'].iloc[21]:%Y-%m-%d}"
    with pytest.raises(PlanningError) as twice:
        frequency(repeated["date"])
    assert twice.value.field == "sales.date" and twice.value.value == f"{sales['date'].iloc[5]:%Y-%m-%d}"
    with pytest.raises(PlanningError):
        frequency(["2025-01-01"])


def test_frequency_tells_daily_from_weekly():
    assert frequency(pd.date_range("2025-01-01", periods=10, freq="D")) == "daily"
    assert frequency(list(pd.date_range("2025-01-06", periods=10, freq="7D"))[::-1]) == "weekly"


def test_bad_units_and_too_long_histories_name_the_field():
    sales, _ = _sales()
    with pytest.raises(PlanningError) as negative:
        measure(sales.assign(units=sales["units"].where(sales.index != 3, -2)), START, 4)
    assert negative.value.field == "sales.units" and negative.value.value == -2
    years = pd.DataFrame({"date": pd.date_range("2019-01-01", "2025-06-30", freq="D"), "units": 5})
    with pytest.raises(PlanningError) as long:
        measure(years, START, 4)
    assert long.value.field == "sales" and "5 years" in long.value.accepted


@pytest.mark.parametrize("name", ["heavy-tailed", "spiky"])
def test_pure_noise_before_the_campaign_is_refused_as_too_noisy(name):
    # given sales that are pure noise: most days a few units, some days hundreds (heavy tails), or bulk orders
    rng = np.random.default_rng(7)
    dates = pd.date_range("2025-02-10", START, freq="D").append(pd.date_range("2025-06-03", periods=27, freq="D"))
    units = np.round(np.exp(rng.normal(1, 2.5, len(dates)))) if name == "heavy-tailed" \
        else np.where(rng.random(len(dates)) < 0.05, 500, 0)
    # when / then
    with pytest.raises(MeasurementRefused, match="too noisy") as refused:
        measure(pd.DataFrame({"date": dates, "units": units}), START, 4)
    assert set(refused.value.value) == {"p10", "p50", "p90"}


def test_steady_sales_with_noise_around_their_level_are_measured():
    # given day-to-day noise around a steady level (wide, but the level is learnable)
    rng = np.random.default_rng(7)
    dates = pd.date_range("2025-02-10", periods=16 * 7 + 28, freq="D")
    result = measure(pd.DataFrame({"date": dates, "units": rng.integers(0, 1000, len(dates))}), START, 4)
    # then the counterfactual over the campaign is about 28 days of the level
    assert 0.8 < result["counterfactual_units"]["during"]["p50"] / (28 * 500) < 1.2


def test_a_new_product_counts_every_unit_sold_as_incremental():
    # given a product with no sales for 10 weeks, then a launch campaign
    sales, truth = _sales(pre_weeks=10, baseline=0.0, lift=300.0)
    # when
    result = measure(sales, START, 4)
    # then
    observed = sales.loc[sales["date"] >= pd.Timestamp(START), "units"].sum()
    assert result["incremental_units"]["total"]["p50"] == pytest.approx(observed)
    assert result["counterfactual_units"]["during"] == {"mean": 0.0, "p10": 0.0, "p50": 0.0, "p90": 0.0}
    assert result["relative_lift"] is None and any("new product" in note for note in result["notes"])


def test_the_answer_has_its_documented_shape_and_is_deterministic_for_a_seed():
    # given
    sales, truth = _sales(pre_weeks=20, after_weeks=6, baseline=900.0, lift=1200.0, marketplace="amazon")
    # when
    result = measure(sales, START, 4, attributed_units=210.0, draws=300, seed=3)
    again = measure(sales, START, 4, attributed_units=210.0, draws=300, seed=3)
    other = measure(sales, START, 4, attributed_units=210.0, draws=300, seed=4)
    # then
    assert result == again and result != other
    assert result["method"] == "bsts" and result["frequency"] == "daily" and result["coverage"] == 0.8
    assert "day-of-week" in result["model"] and result["attributed_units"] == 210.0
    assert result["periods"] == {"pre": {"start": "2025-01-13", "end": "2025-06-01", "weeks": 20.0},
                                 "during": {"start": START, "end": "2025-06-29", "weeks": 4.0},
                                 "after": {"start": "2025-06-30", "end": "2025-08-10", "weeks": 6.0}}
    for band in (result["incremental_units"]["during"], result["incremental_units"]["after"],
                 result["incremental_units"]["total"], result["counterfactual_units"]["during"],
                 result["relative_lift"]):
        assert set(band) == {"mean", "p10", "p50", "p90"} and band["p10"] <= band["p50"] <= band["p90"]
    during = result["incremental_units"]["during"]
    assert during["p50"] == pytest.approx(result["observed_units"]["during"]
                                          - result["counterfactual_units"]["during"]["p50"], rel=0.05)
    series = result["series"]
    assert len(series["date"]) == len(sales) and series["date"][0] == "2025-01-13"
    assert all(len(series[k]) == len(sales) for k in ("observed", "expected", "p10", "p90"))
    assert series["observed"] == sales["units"].astype(float).tolist()


def test_weekly_sales_are_measured_with_the_level_alone():
    sales, truth = campaign_sales(_campaign(baseline=2000.0), 2500.0, np.random.default_rng(2), pre_weeks=20,
                                  after_weeks=4, frequency="weekly")
    result = measure(sales, START, 4, draws=400)
    assert result["frequency"] == "weekly" and "day-of-week" not in result["model"]
    assert result["periods"]["during"]["weeks"] == 4.0


def test_the_plot_is_a_png():
    sales, _ = _sales()
    png = plot_png(measure(sales, START, 4, draws=200), "spring campaign")
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def _replication(rng: np.random.Generator) -> tuple[dict, dict]:
    campaign = {"start_date": pd.Timestamp("2025-03-03") + pd.Timedelta(days=int(rng.integers(0, 200))),
                "weeks": int(rng.integers(2, 9)),
                "marketplace": str(rng.choice(["amazon", "shopify", "retail", "other"])),
                "baseline_units_per_month": float(np.exp(rng.uniform(np.log(30), np.log(3000))))}
    lift = campaign["baseline_units_per_month"] * float(np.exp(rng.uniform(np.log(0.1), np.log(3.0))))
    sales, truth = campaign_sales(campaign, lift, rng, pre_weeks=float(rng.integers(8, 53)),
                                  after_weeks=float(rng.integers(2, 9)))
    return measure(sales, campaign["start_date"], campaign["weeks"], draws=400, seed=int(rng.integers(1 << 30))), truth


@pytest.mark.slow
def test_the_80_percent_interval_contains_the_true_incremental_units_72_to_88_percent_of_the_time():
    # given 150 simulated campaigns: 8 to 52 weeks of daily sales before, 2 to 8 weeks of campaign, 2 to 8 after,
    # baselines of 30 to 3,000 units a month, lifts of 0.1x to 3x the baseline, every marketplace's carryover
    rng = np.random.default_rng(2026)
    inside, errors, refused = [], [], 0
    for _ in range(150):
        try:
            result, truth = _replication(rng)
        except MeasurementRefused:
            refused += 1
            continue
        total, true = result["incremental_units"]["total"], truth["incremental_total"]
        inside.append(total["p10"] <= true <= total["p90"])
        errors.append(abs(total["p50"] - true) / true)
    # then
    coverage, error = float(np.mean(inside)), float(np.median(errors))
    print(f"\n80% interval coverage {coverage:.3f} over {len(inside)} campaigns ({refused} refused); "
          f"median absolute error {error:.3f} of the true incremental units")
    assert refused <= 0.05 * 150
    assert 0.72 <= coverage <= 0.88
