"""Planning assumptions that no contract table records, each with its source, and one function per business rule.
A campaign brief may override the assumptions. Who posts is learned (the posting model, from the `invitations`
table); how many posts a creator who posts makes is not in any table yet, so it stays a stated judgement here.
"""

from __future__ import annotations

import math

import numpy as np

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

# Units/month added to the baseline where the lift is measured relatively (ln((during + floor) / (baseline + floor))),
# so that a new product (baseline 0) has a lift too; judgement: small against any product with sales, large against
# rounding.
SALES_FLOOR = 10.0

DAYS_PER_MONTH = 30.4375  # the Gregorian year's mean month: planners count sales per month, campaigns in weeks
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7


def unique_reach(engaged, pool):
    """People reached once when creators of one audience pool (a niche on a platform) engage `engaged` in all:
    pool x (1 - e^(-engaged / pool)). Audiences overlap, so each engagement reaches someone new less often."""
    engaged = np.asarray(engaged, dtype=float)
    out = np.empty(np.broadcast_shapes(engaged.shape, np.shape(pool)))
    out[...] = engaged
    out = unique_reach_in_place(out, pool)
    return out[()] if out.ndim == 0 else out


def unique_reach_in_place(engaged: np.ndarray, pool) -> np.ndarray:
    """`unique_reach` written over `engaged` (a float array of the result's shape), without the temporaries of a
    large array (a forecast's draws by roster and cell)."""
    np.divide(engaged, pool, out=engaged)
    np.negative(engaged, out=engaged)
    np.expm1(engaged, out=engaged)
    np.negative(engaged, out=engaged)
    np.multiply(engaged, pool, out=engaged)
    return engaged


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


def roas(revenue, cost):
    """Return on ad spend: incremental revenue per dollar spent, revenue / cost (0 where nothing was spent)."""
    revenue, cost = np.asarray(revenue, dtype=float), np.asarray(cost, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cost > 0, revenue / cost, 0.0)


def roi(revenue, cost, margin: float):
    """Return on investment: profit per dollar spent, (revenue x gross margin - cost) / cost (0 where nothing was
    spent). Only with a margin: without one, revenue is not profit, and ROAS is the honest figure."""
    revenue, cost = np.asarray(revenue, dtype=float), np.asarray(cost, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cost > 0, (revenue * margin - cost) / cost, 0.0)


def break_even_roas(margin: float | None) -> float:
    """The ROAS at which a dollar of spend pays for itself: 1 / margin in profit when a gross margin is known, 1 (a
    dollar of revenue per dollar) when it is not."""
    return 1.0 / margin if margin else 1.0


def gift_cost(product_price: float, gift_value: float | None = None, shipping: float = SHIPPING_COST) -> float:
    """One gifted parcel: the gift's value (the product's price when none is given) plus shipping."""
    value = product_price if _missing(gift_value) else gift_value
    return float(value) + float(shipping)


def commission_rate(rate: float | None = None) -> float:
    """The affiliate commission per sale: the one given (0 included), else DEFAULT_COMMISSION."""
    return DEFAULT_COMMISSION if _missing(rate) else float(rate)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def sales_scale(baseline):
    """What the lift is relative to: the baseline units/month plus SALES_FLOOR (defined for a new product)."""
    return np.asarray(baseline, dtype=float) + SALES_FLOOR


def offer_per_post(compensation: str, gift_value, product_price, price, units_per_post=0.0, commission=None,
                   fee=None) -> np.ndarray:
    """What an invitation offers a creator for one post (USD), to set against the creator's price per post:
    - gifting: the gift's value (the product's price when none is given);
    - paid: the fee offered (the creator's own price when none is given);
    - affiliate: the gift's value plus the expected commission on one post's units.
    Arguments may be numbers or numpy arrays of one shape; missing values are None or NaN."""
    price = np.asarray(price, dtype=float)
    if compensation == "paid":
        offered = _given(fee, price)
    else:
        offered = _given(gift_value, product_price)
        if compensation == "affiliate":
            offered = offered + _given(commission, DEFAULT_COMMISSION) * np.asarray(product_price, dtype=float) \
                * np.asarray(units_per_post, dtype=float)
    return np.broadcast_to(offered, np.broadcast_shapes(np.shape(offered), price.shape)).astype(float)


def _given(value, default) -> np.ndarray:
    """`value` where it is a number, `default` where it is missing (None or NaN)."""
    value = np.asarray(np.nan if value is None else value, dtype=float)
    return np.where(np.isnan(value), np.asarray(default, dtype=float), value)
