"""Measured quality on a simulated dataset of the size the targets name (50k creators, 1,000 campaigns).

Slow: simulating and training take about two minutes. The numbers are printed so CI logs show them.
"""

import numpy as np
import pytest

from models.brief import Brief
from models.candidates import score
from models.forecast import forecast
from training.backtest import candidates_of, forecast_backtest, ranking_backtest, roster_backtest
from training.datasets import Dataset
from training.prepare import prepare
from training.simulation.calibration import REFERENCE_UNITS_DURING
from training.simulation.generator import simulate
from training.train import train_all

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world():
    tables = simulate(50_000, 1_000, seed=22, progress=False)
    dataset = Dataset(tables["creators"], tables["posts"], tables["campaigns"],
                      {k: v for k, v in tables.items() if k.startswith("truth")})
    trained = train_all(prepare(dataset), progress=False)
    print("\n" + "\n".join(f"{k:40s} {v:.4f}" for k, v in sorted(trained.metrics.items())))
    return dataset, trained


def test_models_reach_their_targets_against_the_truth_and_beat_a_planners_baseline(world):
    _, trained = world
    m = trained.metrics
    assert m["engagement.r2"] >= 0.9 * m["engagement.r2_truth"]
    assert m["conversion.poisson_deviance"] <= 1.1 * m["conversion.poisson_deviance_truth"]
    assert 0.72 <= m["lift.coverage_80"] <= 0.88
    assert m["lift.mdape"] <= 1.15 * m["lift.mdape_truth"]
    assert m["engagement.r2"] > m["engagement.r2_baseline"] + 0.1
    assert m["conversion.poisson_deviance"] < 0.9 * m["conversion.poisson_deviance_baseline"]
    assert m["lift.mdape"] < 0.7 * m["lift.mdape_baseline"]


def test_forecast_intervals_hold_80_percent_of_held_out_outcomes(world):
    # given: held-out campaigns, each forecast from its own roster before anyone posted
    dataset, trained = world
    # when
    result = forecast_backtest(dataset, trained.models, draws=300)
    print(result)
    # then
    assert result["forecast.campaigns"] >= 150
    assert 0.72 <= result["forecast.coverage_80"] <= 0.88
    assert result["forecast.mdape"] <= 1.15 * result["forecast.mdape_truth"]


def backtest_case(dataset, compensation: str):
    """The brief and the 800 Instagram and TikTok candidates that the roster and ranking backtests share."""
    candidates = candidates_of(dataset)
    pool = candidates[candidates["platform"].isin(["instagram", "tiktok"])].sample(800, random_state=1)
    brief = Brief.from_mapping({"niche": "fitness", "product_price": 30.0, "baseline_units_per_month": 500,
                                "compensation": compensation, "marketplace": "amazon", "weeks": 8})
    return brief, pool.reset_index(drop=True)


@pytest.mark.parametrize("compensation", ["gifting", "paid", "affiliate"])
def test_roster_reaches_90_percent_of_an_oracle_with_the_truth(world, compensation):
    dataset, trained = world
    brief, pool = backtest_case(dataset, compensation)
    result = roster_backtest(brief, pool, dataset.truth["truth_creators"], trained.models, 8_000.0)
    print(compensation, result)
    assert result["roster.share_of_oracle"] >= 0.9


def ranking_result(world, compensation: str) -> dict[str, float]:
    dataset, trained = world
    brief, pool = backtest_case(dataset, compensation)
    result = ranking_backtest(brief, pool, dataset.truth["truth_creators"], trained.models, 8_000.0)
    print(compensation, result)
    return result


@pytest.mark.parametrize("compensation", ["gifting", "paid", "affiliate"])
def test_ranking_by_predicted_profit_beats_ranking_by_followers_and_by_the_tier_median(world, compensation):
    result = ranking_result(world, compensation)
    assert result["ranking.ndcg50"] >= max(result["ranking.ndcg50_followers"],
                                           result["ranking.ndcg50_tier_median"]) + 0.05


RANKING_BOUNDED = pytest.mark.xfail(strict=True, reason="NDCG@50 >= 0.9 against true expected profit: each creator's "
                                    "own conversion effect (truth sd 0.5 on ln units) is observable only through a "
                                    "thin campaign track record; a ranking that knew everything else in the truth "
                                    "scores about 0.83 (gifting), 0.89 (paid) and 0.85 (affiliate) on this pool")


@RANKING_BOUNDED
@pytest.mark.parametrize("compensation", ["gifting", "paid", "affiliate"])
def test_ranking_by_predicted_profit_reaches_ndcg_of_0_9(world, compensation):
    assert ranking_result(world, compensation)["ranking.ndcg50"] >= 0.9


def test_reference_campaign_forecast_contains_the_reported_sales(world):
    # given: DESIGN §2, gifting ~$47 per micro Instagram creator, $9,917 in all, Amazon, baseline 542, ~$21
    dataset, trained = world
    candidates = candidates_of(dataset)
    brief = Brief.from_mapping({"niche": "home", "product_price": 21.0, "baseline_units_per_month": 542,
                                "compensation": "gifting", "gift_value": 39.0, "shipping_cost": 8.0,
                                "marketplace": "amazon", "weeks": 13, "platforms": ["instagram"],
                                "tiers": ["micro"]})
    # when
    result = forecast(brief, score(brief, candidates, trained.models), trained.models["lift"], 9_917.0)
    during = result["forecast"]["units_per_month_during"]
    print("reference:", during, "creators", len(result["roster"]["creators"]))
    # then
    assert len(result["roster"]["creators"]) == 211
    assert during["p10"] <= REFERENCE_UNITS_DURING <= during["p90"]
    assert np.isclose(result["roster"]["total_cost"], 211 * 47.0)
