"""Daily sales around a campaign: weekday pattern, drift, the campaign's lift and its fading carryover, the truth
that a measurement should recover, and brand worlds whose campaigns sell twice or half as much."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from microlift.models.economics import DAYS_PER_MONTH
from microlift.training.simulation import expectations as ex
from microlift.training.simulation.config import DEFAULT, carryover_retention
from microlift.training.simulation.generator import sample_campaign, sample_creators
from microlift.training.simulation.sales import campaign_sales

CAMPAIGN = {"start_date": "2025-06-02", "weeks": 4, "baseline_units_per_month": 3000.0, "marketplace": "amazon"}


def test_weekday_multipliers_average_one_and_show_in_the_sales():
    # given three years of steady daily sales without a campaign
    sales, _ = campaign_sales({**CAMPAIGN, "weeks": 1}, 0.0, np.random.default_rng(1), pre_weeks=156, after_weeks=0)
    # when units are averaged by weekday, relative to each week's mean (the drift cancels)
    weekly = sales["units"] / sales["units"].rolling(7, center=True).mean()
    by_day = weekly.groupby(sales["date"].dt.day_of_week).mean()
    # then
    assert np.mean(DEFAULT.weekday_multipliers) == pytest.approx(1.0)
    assert np.allclose(by_day.to_numpy(), DEFAULT.weekday_multipliers, atol=0.04)  # 1.8% standard error
    assert by_day.idxmax() == int(np.argmax(DEFAULT.weekday_multipliers))


def test_the_baseline_drifts_as_a_random_walk():
    # given many products' expected baselines over 200 days
    paths = np.array([campaign_sales({**CAMPAIGN, "weeks": 1}, 0.0, np.random.default_rng(seed), pre_weeks=28,
                                     after_weeks=0)[1]["baseline_path"] for seed in range(200)])
    weekday = np.tile(DEFAULT.weekday_multipliers, 30)[:paths.shape[1]]  # 2024-12-16 is a Monday
    level = np.log(paths / weekday)
    # then the ln level spreads like a random walk: sd after t days = daily_drift_sd * sqrt(t)
    for days in (30, 120):
        spread = np.std(level[:, days] - level[:, 0])
        assert spread == pytest.approx(DEFAULT.daily_drift_sd * np.sqrt(days), rel=0.15)
    # and its mean stays at the baseline
    assert np.mean(paths[:, -1] / weekday[-1]) == pytest.approx(3000.0 / DAYS_PER_MONTH, rel=0.05)


def test_the_truth_is_the_expected_lift_and_matches_the_sales_on_average():
    # given many draws of the same campaign, with and without its lift
    lift = 1500.0
    runs = [campaign_sales(CAMPAIGN, lift, np.random.default_rng(seed)) for seed in range(60)]
    without = [campaign_sales(CAMPAIGN, 0.0, np.random.default_rng(seed)) for seed in range(60)]
    truth = runs[0][1]
    # then the truth during the campaign is its monthly lift over four weeks, the same for every draw
    assert truth["incremental_during"] == pytest.approx(lift * 28 / DAYS_PER_MONTH, rel=0.01)
    assert truth["incremental_total"] == pytest.approx(truth["incremental_during"] + truth["incremental_after"])
    assert all(run[1]["incremental_total"] == pytest.approx(truth["incremental_total"]) for run in runs)
    # and the extra units sold on average match it
    start = pd.Timestamp(CAMPAIGN["start_date"])
    extra = np.mean([(a["units"][a["date"] >= start].sum() - b["units"][b["date"] >= start].sum())
                     for (a, _), (b, _) in zip(runs, without, strict=True)])
    assert extra == pytest.approx(truth["incremental_total"], rel=0.05)
    assert (runs[0][0]["units"] == runs[0][0]["units"].round()).all()


def test_the_carryover_fades_and_its_first_month_averages_the_marketplace_share():
    # given a campaign with eight weeks after it
    _, truth = campaign_sales(CAMPAIGN, 1000.0, np.random.default_rng(0), after_weeks=8)
    retention = DEFAULT.carryover_daily_retention["amazon"]
    daily = 1000.0 / DAYS_PER_MONTH
    # then each day after keeps `retention` of the day before, and the first month averages the share
    assert 0 < retention < 1
    assert retention == pytest.approx(carryover_retention(DEFAULT.carryover["amazon"]))
    first_month = (sum(retention ** d for d in range(1, 31)) + 0.4375 * retention ** 31) / DAYS_PER_MONTH
    assert first_month == pytest.approx(DEFAULT.carryover["amazon"], rel=1e-6)
    # the truth after is the geometric sum over 56 days (weekday pattern averages out over whole weeks)
    expected_after = daily * sum(retention ** d for d in range(1, 57))
    assert truth["incremental_after"] == pytest.approx(expected_after, rel=0.03)
    assert DEFAULT.carryover_daily_retention["amazon"] > DEFAULT.carryover_daily_retention["retail"]


def test_weekly_sales_sum_the_days_into_weeks_from_the_first_day():
    daily, truth = campaign_sales(CAMPAIGN, 900.0, np.random.default_rng(5))
    weekly, weekly_truth = campaign_sales(CAMPAIGN, 900.0, np.random.default_rng(5), frequency="weekly")
    assert weekly["units"].tolist() == daily["units"].groupby(np.arange(len(daily)) // 7).sum().tolist()
    assert (weekly["date"].diff().dropna() == pd.Timedelta(days=7)).all()
    assert pd.Timestamp(CAMPAIGN["start_date"]) in set(weekly["date"])
    assert weekly_truth["incremental_total"] == pytest.approx(truth["incremental_total"])


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_a_brand_world_scales_post_conversions_and_the_campaign_lift(factor):
    # given the same creators and campaign in a typical brand's world and in a brand world
    rng = np.random.default_rng(11)
    creators = sample_creators(300, rng, DEFAULT)
    campaign = sample_campaign(0, rng, DEFAULT)
    campaign.update(niche="beauty", baseline_units_per_month=500.0, marketplace="amazon", compensation="paid")
    roster = creators.iloc[:40]
    world = dataclasses.replace(DEFAULT, brand_lift=factor)
    # when
    typical, brand = (ex.expected_campaign_outcome(campaign, roster, cfg) for cfg in (DEFAULT, world))
    posts = ex.campaign_context(roster, campaign, DEFAULT).assign(format="feed")
    # then every post's conversions scale exactly, and the lift (attributed, word of mouth and halo alike) with
    # them, short only of the saturation of the buyer pool (a person buys once however many posts they see)
    assert ex.conversions(posts, world) == pytest.approx(factor * ex.conversions(posts, DEFAULT))
    assert brand["expected_halo_units_per_month"] == pytest.approx(factor * typical["expected_halo_units_per_month"])
    assert brand["expected_incremental_units_per_month"] \
        == pytest.approx(factor * typical["expected_incremental_units_per_month"], rel=0.02)


def test_the_typical_brand_changes_nothing():
    assert DEFAULT.brand_lift == 1.0
