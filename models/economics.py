"""Planning assumptions that no contract table records, each with its source. A campaign brief may override them.

The contract's posts table only holds creators who posted, so how many invited creators post cannot be learned
from it; these priors come from the article (gifted creators post only sometimes) and stated judgement.
"""

from __future__ import annotations

import math

import numpy as np

# Share of invited creators who post: gifting carries no obligation (article), paid posts are contracted,
# affiliates post when they expect sales (judgement).
POST_PROBABILITY = {"gifting": 0.60, "paid": 0.97, "affiliate": 0.75}
# Expected posts from a creator who posts (judgement: paid deals often include a second post or a story).
POSTS_IF_POSTING = {"gifting": 1.10, "paid": 1.55, "affiliate": 1.35}
SHIPPING_COST = 8.0          # USD per gifted parcel (judgement)
DEFAULT_COMMISSION = 0.15    # affiliate commission per sale when the brief gives none (judgement)
# People who engage with one niche on one platform in a brand's market (judgement). Creators of the same niche and
# platform draw on the same pool, so their engaged audiences overlap: unique = Q * (1 - exp(-engagements / Q)).
ENGAGED_POOL = {"instagram": 8.0e5, "tiktok": 1.2e6, "youtube": 2.0e5}
# USD per 1k followers for a sponsored post when a creator has no price (IMH rule of thumb, benchmarks.md §5).
PRICE_PER_1K_FOLLOWERS = {"instagram": 10.0, "tiktok": 2.5, "youtube": 20.0}

# --- one function per business rule -------------------------------------------------------------------------------

DAYS_PER_MONTH = 30.4375  # the Gregorian year's mean month: planners count sales per month, campaigns in weeks
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7


def unique_reach(engaged, pool):
    """People reached once when creators of one audience pool (a niche on a platform) engage `engaged` in all:
    pool x (1 - e^(-engaged / pool)). Audiences overlap, so each engagement reaches someone new less often."""
    return pool * -np.expm1(np.divide(-np.asarray(engaged, dtype=float), pool))


def added_reach(before, after, pool):
    """People newly reached when a pool's engagements go from `before` to `after` (`unique_reach(after) -
    unique_reach(before)`, computed without cancelling)."""
    return pool * (np.expm1(-np.asarray(before, dtype=float) / pool) - np.expm1(-np.asarray(after, dtype=float) / pool))


def added_reach_one(before: float, after: float, pool: float) -> float:
    """`added_reach` for plain floats, without numpy's per-call overhead (the roster's inner loop)."""
    return pool * (math.expm1(-before / pool) - math.expm1(-after / pool))


def campaign_cost(compensation: str, gift: float, commission_per_unit: float, invited, fees, units):
    """What a campaign pays, by way of paying:
    - gifting: the gift (product value and shipping) of every invited creator, whether or not they post;
    - paid: the fees of the posts delivered (`fees`);
    - affiliate: the gift of every invited creator plus the commission on the units they sell.
    Arguments may be numbers or numpy arrays of one shape (`invited` creators, `fees` USD, `units` attributed)."""
    if compensation == "gifting":
        return gift * np.asarray(invited, dtype=float)
    if compensation == "paid":
        return np.asarray(fees, dtype=float)
    return gift * np.asarray(invited, dtype=float) + commission_per_unit * np.asarray(units, dtype=float)


def roi(revenue, cost, margin: float):
    """Profit per dollar spent: (revenue x margin - cost) / cost, 0 where nothing was spent."""
    revenue, cost = np.asarray(revenue, dtype=float), np.asarray(cost, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cost > 0, (revenue * margin - cost) / cost, 0.0)


def gift_cost(product_price: float, gift_value: float | None = None, shipping: float = SHIPPING_COST) -> float:
    """One gifted parcel: the gift's value (the product's price when none is given) plus shipping."""
    value = product_price if _missing(gift_value) else gift_value
    return float(value) + float(shipping)


def commission_rate(rate: float | None = None) -> float:
    """The affiliate commission per sale: the one given (0 included), else DEFAULT_COMMISSION."""
    return DEFAULT_COMMISSION if _missing(rate) else float(rate)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
