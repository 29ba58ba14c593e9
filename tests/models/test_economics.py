"""Each business rule is one function (models/economics.py); a real 0 is never replaced by a default."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microlift.models import economics
from microlift.models.brief import Brief
from microlift.models.candidates import score
from microlift.models.forecast import simulate, summarise
from microlift.models.ranking import QUANTS, creator_values, rank
from tests.models.test_engine import SLOPES, world  # noqa: F401 - the shared small world and its models

BRIEF = {"niche": "home", "product_price": 20.0, "baseline_units_per_month": 500}


def test_overlap_counts_each_person_once_and_its_forms_agree():
    pool = np.array([1e5, 8e5])
    engaged = np.array([5e4, 2e6])
    reach = economics.unique_reach(engaged, pool)
    assert np.allclose(reach, pool * (1 - np.exp(-engaged / pool)))
    assert np.all(reach < engaged) and np.all(reach < pool)
    assert np.allclose(economics.added_reach(1e4, 3e4, pool), economics.unique_reach(3e4, pool)
                       - economics.unique_reach(1e4, pool))
    assert economics.added_reach_one(1e4, 3e4, 8e5) == pytest.approx(float(economics.added_reach(1e4, 3e4, 8e5)))


def test_cost_by_way_of_paying():
    invited, fees, units = np.array([1.0, 1.0]), np.array([0.0, 300.0]), np.array([10.0, 0.0])
    # gifts go to every invited creator, posting or not; fees only for posts delivered; commissions per unit sold
    assert list(economics.campaign_cost("gifting", 47.0, 3.0, invited, fees, units)) == [47.0, 47.0]
    assert list(economics.campaign_cost("paid", 47.0, 3.0, invited, fees, units)) == [0.0, 300.0]
    assert list(economics.campaign_cost("affiliate", 47.0, 3.0, invited, fees, units)) == [77.0, 47.0]


def test_roi_is_profit_per_dollar_and_nothing_spent_earns_nothing():
    assert list(economics.roi([300.0, 50.0], [100.0, 0.0], 0.5)) == [0.5, 0.0]


def test_a_commission_or_gift_of_zero_is_zero_not_the_default():
    assert economics.commission_rate(0.0) == 0.0
    assert economics.commission_rate(None) == economics.commission_rate(float("nan")) == economics.DEFAULT_COMMISSION
    assert economics.gift_cost(20.0, 0.0, 8.0) == 8.0
    assert economics.gift_cost(20.0, None, 8.0) == economics.gift_cost(20.0, float("nan"), 8.0) == 28.0
    assert Brief.from_mapping({**BRIEF, "compensation": "affiliate", "commission_rate": 0}).commission_per_unit == 0
    assert math.isclose(Brief.from_mapping(BRIEF).months * economics.WEEKS_PER_MONTH, 4.0)


def test_an_affiliate_without_commission_costs_the_gift_alone(world):  # noqa: F811
    free = Brief.from_mapping({**BRIEF, "compensation": "affiliate", "commission_rate": 0})
    paid = Brief.from_mapping({**BRIEF, "compensation": "affiliate", "commission_rate": 0.2})
    cost_free = score(free, world.creators, world.models)["cost"].to_numpy()
    cost_paid = score(paid, world.creators, world.models)["cost"].to_numpy()
    assert np.allclose(cost_free, free.gift) and np.all(cost_paid > cost_free)


def test_a_ranking_budget_of_zero_is_taken_as_zero_not_as_the_fifty_cheapest(world):  # noqa: F811
    # given a gifting brief: the lift model's slopes depend on the roster the budget buys
    brief, scored = world.brief("gifting"), world.scored("gifting")
    cheapest = float(scored["cost"].min())
    # when the budget is 0, the smallest roster's budget, or not given (the cost of the 50 cheapest creators)
    revenue = {name: [row["incremental_revenue"]["mean"] for row in rank(brief, world.creators, scored, world.models,
                                                                         None, top_k=10, budget=budget)]
               for name, budget in (("zero", 0.0), ("one", cheapest), ("unset", None))}
    # then 0 answers as the smallest roster does (a single creator), not as the default
    assert revenue["zero"] == revenue["one"]
    assert revenue["zero"] != revenue["unset"]


@pytest.mark.parametrize("kind", ["gifting", "paid", "affiliate"])
def test_scoring_ranking_and_forecast_cost_what_each_once_wrote_out_for_itself(world, kind):  # noqa: F811
    # given a brief, its scored candidates and the arithmetic scoring, ranking and the forecast each used to inline
    brief, scored = world.brief(kind), world.scored(kind)
    posting, fee = scored["posting"].to_numpy(), scored["cost_if_posting"].to_numpy()
    per_unit = brief.commission * brief.product_price
    # then scoring: a gift whether or not the creator posts, the fee on delivery, the gift and the commission
    written = {"gifting": np.full(len(scored), brief.gift),
               "paid": posting * scored["price"].to_numpy() * scored["posts_if_posting"].to_numpy(),
               "affiliate": brief.gift + per_unit * scored["conversions"].to_numpy()}
    assert np.allclose(scored["cost"].to_numpy(), written[kind], rtol=1e-12, atol=0)
    # and ranking: a fee at each quantile of the chance to post, a commission on each quantile's units; in
    # expectation, the scored cost
    values = creator_values(brief, scored, SLOPES)
    assert np.allclose(values["cost"]["mean"], scored["cost"].to_numpy(), rtol=1e-12, atol=0)
    for q, level in zip(QUANTS, (0.1, 0.5, 0.9), strict=True):
        units = values["attributed_units"][q]
        written = {"gifting": scored["cost"].to_numpy(), "paid": np.where(posting > 1 - level, fee, 0.0),
                   "affiliate": brief.gift + per_unit * units}
        assert np.allclose(values["cost"][q], written[kind], rtol=1e-12, atol=0), q
    # and the forecast's draws: gifts to everyone invited, fees and commissions of those who post
    chosen = np.zeros(len(scored), dtype=bool)
    chosen[np.argsort(scored["cost"].to_numpy())[:40]] = True
    rng = np.random.default_rng(0)
    uniforms, noise = rng.random((200, int(chosen.sum()))), rng.standard_normal(200)
    draws = simulate(brief, scored, chosen, world.models["lift"], uniforms, noise)
    posted = (uniforms < posting[chosen]).astype(float)
    conversions = posted @ (scored["posts_if_posting"].to_numpy() * scored["conversions_per_post_mean"].to_numpy())[
        chosen]
    written = {"gifting": np.full(200, brief.gift * chosen.sum()), "paid": posted @ fee[chosen],
               "affiliate": brief.gift * chosen.sum() + per_unit * conversions}
    assert np.allclose(draws["cost"], written[kind], rtol=1e-12, atol=0)
    # and ROAS (revenue per dollar) always, ROI (profit per dollar) only with a gross margin
    revenue = draws["incremental"] * brief.months * brief.product_price
    summary = summarise(brief, draws)
    roas = revenue / draws["cost"]
    assert summary["roas"] == pytest.approx(
        {"mean": roas.mean(), **dict(zip(QUANTS, np.percentile(roas, [10, 50, 90]), strict=True))}, rel=1e-12)
    if brief.margin is None:
        assert summary["roi"] is None and summary["p_roi_positive"] is None
    else:
        roi = (revenue * brief.margin - draws["cost"]) / draws["cost"]
        assert summary["roi"] == pytest.approx(
            {"mean": roi.mean(), **dict(zip(QUANTS, np.percentile(roi, [10, 50, 90]), strict=True))}, rel=1e-12)
        assert summary["p_roi_positive"] == pytest.approx(np.mean(roi > 0))
