"""Each business rule is one function (models/economics.py); a real 0 is never replaced by a default."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microlift.models import economics
from microlift.models.brief import Brief
from microlift.models.candidates import score
from microlift.models.ranking import rank
from tests.models.test_engine import world  # noqa: F401 - the shared small world and its models

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
    revenue = {name: [row["revenue"]["p50"] for row in rank(brief, world.creators, scored, world.models, "profit",
                                                             top_k=10, budget=budget)]
               for name, budget in (("zero", 0.0), ("one", cheapest), ("unset", None))}
    # then 0 answers as the smallest roster does (a single creator), not as the default
    assert revenue["zero"] == revenue["one"]
    assert revenue["zero"] != revenue["unset"]
