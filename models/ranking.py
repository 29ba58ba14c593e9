"""Ranking a campaign's candidates by the objective a planner picks, with ranges and reasons in plain words."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from microlift.models import features as F
from microlift.models import workload
from microlift.models.brief import Brief, resolve_objective
from microlift.models.candidates import candidate_rows, conversion_bands, eligible, shared_matrices
from microlift.models.economics import campaign_cost, unique_reach
from microlift.models.forecast import brief_slopes, budget_slopes
from microlift.models.roster import Slopes
from microlift.models.rounding import column as rounded_column

# Campaign-level features are the same for every candidate: they never explain why one creator beats another.
_CAMPAIGN_ONLY = {"log_product_price", "discount_code", "marketplace", "compensation", "sponsored", "format"}
QUANTS = ("p10", "p50", "p90")
# objectives that weigh what a creator brings against what it costs
_VALUE_OBJECTIVES = ("profit", "net_revenue", "roas", "roi")
# the creator fields that reasons put in words (see _describe)
_DESCRIBED = ("niche", "platform", "followers", "country", "hist_log_er_mean", "hist_posts", "audience_quality",
              "sponsored_share", "track_posts", "track_units", "track_followers_k", "posts_per_week")


def _describe(feature: str, row: Mapping, brief: Brief) -> str:
    """Plain words for a feature's value in one candidate's row; the feature's name when its value cannot be put in
    words (a reason is worth less than the ranking it explains)."""
    try:
        return _words(feature, row, brief)
    except (ArithmeticError, TypeError, ValueError, KeyError, IndexError):
        return feature.replace("_", " ")


def _words(feature: str, row: Mapping, brief: Brief) -> str:
    value = row.get
    match feature:
        case "niche_match":
            same = row["niche"] == brief.niche
            return "niche matches the campaign" if same else f"niche ({row['niche']}) differs from the campaign's"
        case "platform":
            return f"on {row['platform']}"
        case "niche":
            return f"{row['niche']} niche"
        case "tier":
            return f"{F.TIERS[int(F.tier_index(np.array([row['followers']]))[0])]} tier"
        case "log_followers":
            return f"{row['followers']:,.0f} followers"
        case "hist_log_er_mean":
            mean = value("hist_log_er_mean")
            return "no posting history" if mean is None or not np.isfinite(mean) else \
                f"past engagement rate {math.exp(mean):.1%}"
        case "hist_log_er_sd":
            return "consistency of past engagement"
        case "hist_posts":
            return f"{int(value('hist_posts') or 0)} past posts"
        case "audience_quality":
            return f"audience quality {value('audience_quality'):.0%}" if pd.notna(value("audience_quality")) \
                else "audience quality unknown"
        case "sponsored_share":
            share = value("sponsored_share")
            return f"{share:.0%} of recent posts sponsored" if pd.notna(share) else "sponsoring unknown"
        case "country":
            return f"audience in {value('country') or 'an unknown country'}"
        case "track_posts":
            return f"{int(value('track_posts') or 0)} posts in earlier campaigns"
        case "track_log_units_per_1k":
            units, thousands = value("track_units"), value("track_followers_k")
            return "no campaign track record" if not (pd.notna(units) and thousands) else \
                f"earlier campaigns sold {units / thousands:.2f} units per 1k followers"
        case "log_price_per_1k":
            return f"price ${row['price']:,.0f} per post"
        case "posts_per_week":
            return f"{value('posts_per_week')} posts a week"
        case "log_views_per_follower":
            return "views per follower"
        case "log_following_ratio":
            return "accounts followed per follower"
        case "log_posts_count":
            return "posts published in all"
    return feature.replace("_", " ")


def _reasons(models: dict, rows: pd.DataFrame, scored: Mapping[str, np.ndarray], norms: np.ndarray, brief: Brief,
             objective: str, top: int = 3, matrices: tuple[np.ndarray, np.ndarray] | None = None) -> list[list[str]]:
    """Top reasons of each row: the largest model contributions, and for paid posts the price against the
    median price of the candidates' tier and platform (`norms`). `matrices`: the rows' engagement and conversion
    feature matrices, if already built."""
    X_e, X_c = matrices or (None, None)
    quantities, features, blocks = [], [], []
    for quantity, kind, X, wanted in (("engagement", "engagement", X_e, ("engagement", *_VALUE_OBJECTIVES)),
                                      ("attributed units", "conversion", X_c,
                                       ("attributed_units", *_VALUE_OBJECTIVES))):
        if objective in wanted:
            model = models[kind]
            keep = [j for j, f in enumerate(model.features_) if f not in _CAMPAIGN_ONLY]
            X = F.matrix(kind, rows, model.features_) if X is None else X
            blocks.append(model.contributions(X)[:, keep])
            features += [model.features_[j] for j in keep]
            quantities += [quantity] * len(keep)
    effects = np.hstack(blocks)
    price, tier, platform = (np.asarray(scored[c]) for c in ("price", "tier", "platform"))
    weights = np.where(np.abs(effects) >= 0.03, np.abs(effects), 0.0)
    price_ratio = np.ones(len(effects))
    if brief.compensation == "paid" and objective in _VALUE_OBJECTIVES:
        price_ratio = np.where(norms > 0, price / np.where(norms > 0, norms, 1.0), 1.0)
        weights = np.hstack([weights, np.where(np.abs(price_ratio - 1) > 0.15, np.abs(np.log(price_ratio)), 0.0)
                             [:, None]])
    # the largest weights first, ties in column order (a stable sort), described only where shown
    order = np.argsort(-weights, axis=1, kind="stable")[:, :top]
    described = [c for c in _DESCRIBED if c in rows.columns]
    out = []
    for pos, values_of_row in enumerate(zip(*(rows[c].tolist() for c in described), strict=True)):
        row = dict(zip(described, values_of_row, strict=True)) | {"price": price[pos]}
        texts = []
        for j in order[pos].tolist():
            if weights[pos, j] <= 0:
                break
            if j == len(features):  # the price against its tier's norm
                ratio = price_ratio[pos]
                texts.append(f"price {'above' if ratio > 1 else 'below'} {tier[pos]} {platform[pos]} norm: "
                             f"{(1 / ratio - 1) * 100:+.0f}% return per dollar")
            else:
                texts.append(f"{_describe(features[j], row, brief)}: {math.expm1(effects[pos, j]) * 100:+.0f}% "
                             f"{quantities[j]}")
        out.append(texts)
    return out


def _pools(platform: np.ndarray) -> np.ndarray:
    """Each creator's engaged-audience pool (`features.engaged_pools`), looked up once per platform: with it,
    `economics.unique_reach` gives `features.unique_engagements` of each creator alone."""
    codes, names = F.factorized(platform, use_na_sentinel=False)  # missing: smallest pool
    return F.engaged_pools(np.asarray(names, dtype=object))[codes]


def creator_values(brief: Brief, scored: pd.DataFrame | Mapping[str, np.ndarray], slopes: Slopes,
                   bands: bool = True) -> dict[str, dict[str, np.ndarray] | None]:
    """Per creator, over the campaign: engagements, attributed units, incremental revenue, cost, net revenue, ROAS,
    and profit and ROI when the brief has a gross margin (None otherwise).

    Each is a band {mean, p10, p50, p90}: `mean` the expected value (what adds up across creators, and what the
    ranking sorts on); p10/p50/p90 from the creator's own ranges. Attributed units are the units bought through the
    creator's own code or link (the conversion model); incremental revenue is the creator's stand-alone share of the
    campaign's sales lift (the lift model's slopes for engaged people and attributed units, so the halo is in it)
    times the product's price, which is why it is not attributed units x price. `scored`: a scored frame, or its
    columns as arrays. `bands=False` computes the means alone, with the same arithmetic.
    """
    qs = ("mean", *QUANTS) if bands else ("mean",)
    column = lambda name: np.asarray(scored[name])  # noqa: E731
    posts = column("posts")
    mean_eng, mean_conv = column("engagements"), column("conversions")
    eng = {q: mean_eng if q == "mean" else posts * column(f"engagements_per_post_{q}") for q in qs}
    # without conversion bands (see candidates.conversion_bands) every quantile is the mean
    conv = {q: mean_conv if q == "mean" else posts * column(f"conversions_per_post_{q}"
                                                               if f"conversions_per_post_{q}" in scored
                                                               else "conversions_per_post_mean") for q in qs}
    relevance = column("relevance")  # engaged people count for the halo as far as they care about the product
    pool = _pools(scored["platform"])
    revenue = {q: (slopes.engagement * unique_reach(eng[q] * relevance, pool) + slopes.conversion * conv[q])
               * brief.months * brief.product_price for q in qs}
    # a creator's cost: a fee is paid only if they post (expected: times that chance; at p10/p50/p90: paid or not at
    # that level of the chance), a commission follows the units sold
    p, fee = column("posting"), column("cost_if_posting")
    invited = np.ones(len(p))
    level = {"mean": None, "p10": 0.1, "p50": 0.5, "p90": 0.9}
    paid = {q: p * fee if q == "mean" else np.where(p > 1 - level[q], fee, 0.0) for q in qs}
    cost = {q: campaign_cost(brief.compensation, brief.gift, brief.commission_per_unit, invited, paid[q], conv[q])
            for q in qs}
    base = np.maximum(cost["mean"], 1e-9)
    high = {"p10": "p90", "p50": "p50", "p90": "p10", "mean": "mean"}  # the cost that goes with each revenue level
    net = {q: revenue[q] - cost[high[q]] for q in qs}
    roas = {q: revenue[q] / base for q in qs}
    profit = roi = None
    if brief.margin is not None:
        profit = {q: revenue[q] * brief.margin - cost[high[q]] for q in qs}
        roi = {q: profit[q] / base for q in qs}
    return {"engagements": eng, "attributed_units": conv, "incremental_revenue": revenue, "cost": cost,
            "net_revenue": net, "roas": roas, "profit": profit, "roi": roi}


# the scored columns a ranked creator shows or its values are computed from
_SHOWN = ("creator_id", "platform", "niche", "tier", "followers", "price", "posts", "posting", "relevance", "cost",
          "cost_if_posting", "engagements", "conversions", "conversions_per_post_mean", "log_engagement_rate")
SORT_KEY = {"profit": "profit", "net_revenue": "net_revenue", "roas": "roas", "roi": "roi",
            "attributed_units": "attributed_units", "engagement": "engagements"}


def _top(key: np.ndarray, ids: np.ndarray, among: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest `key` values among the positions `among`, ties broken on `ids`: only the
    candidates at or above the k-th value are sorted."""
    if len(among) > k:
        cut = np.partition(key[among], len(among) - k)[len(among) - k]
        among = among[key[among] >= cut]
    return among[np.lexsort((ids[among], -key[among]))][:k]


def rank(brief: Brief, creators: pd.DataFrame, scored: pd.DataFrame, models: dict, objective: str = "profit",
         top_k: int = 50, budget: float | None = None,
         matrices: tuple[np.ndarray, np.ndarray] | None = None, rounded: bool = False) -> list[dict]:
    """The top_k eligible candidates by the objective's expected value, each with its bands and reasons.

    `objective` is one of OBJECTIVES as `brief.resolve_objective` settles it. `matrices`: the candidates' engagement
    and conversion feature matrices, when the caller has them (`candidates.score_with_matrices`); otherwise the top
    rows' are built here. `rounded`: numbers rounded to what they mean (`rounding.DECIMALS`) a column at a time, as
    the planning service answers them.

    Incremental revenue is the creator's stand-alone share of the lift: the lift model's slopes at the roster
    `budget` buys from the brief's sequence (`forecast.budget_slopes`), or without a budget at the brief's reference
    roster (`forecast.brief_slopes`); ties break on creator_id, so renaming or reordering candidates changes nothing
    else.
    """
    objective = resolve_objective(brief, objective)
    pool = eligible(brief, scored)
    if not pool.any():
        return []
    slopes = brief_slopes(brief, scored, models["lift"], None, pool) if budget is None else \
        budget_slopes(brief, scored, models["lift"], None, pool, budget)
    workload.check("taking the lift model's slopes")
    key = creator_values(brief, scored, slopes, bands=False)[SORT_KEY[objective]]["mean"]
    order = _top(key, scored["creator_id"].to_numpy(), np.flatnonzero(pool), top_k)
    rows = F.rows_at(creators, order)
    context = candidate_rows(brief, rows)  # the brief's fields beside the creators', as scoring read them
    matrices = shared_matrices(models, context) if matrices is None else (matrices[0][order], matrices[1][order])
    shown = scored.iloc[order]  # the rows first: text columns converted for the shown rows only
    top = {c: shown[c].to_numpy() for c in _SHOWN}
    rates = models["engagement"].rates(top["log_engagement_rate"], QUANTS)  # the shown creators' ranges only
    top.update({f"engagements_per_post_{q}": rate * top["followers"] for q, rate in rates.items()})
    bands = conversion_bands(models, context, matrices[1], mean=top["conversions_per_post_mean"])
    top.update({f"conversions_per_post_{q}": v for q, v in bands.items()})
    values = creator_values(brief, top, slopes)
    norms = np.zeros(len(order))
    if brief.compensation == "paid" and objective in _VALUE_OBJECTIVES:  # prices against their tier's norm
        medians = scored.groupby(["tier", "platform"])["price"].median()
        norms = medians.reindex(pd.MultiIndex.from_arrays([top["tier"], top["platform"]])).to_numpy()
    reasons = _reasons(models, rows, top, norms, brief, objective, matrices=matrices)

    def listed(name: str, values: np.ndarray) -> list:
        return rounded_column(name, values) if rounded else values.tolist()

    columns = {"creator_id": top["creator_id"].tolist(), "platform": top["platform"].tolist(),
               "niche": top["niche"].tolist(), "tier": top["tier"].tolist(),
               "followers": top["followers"].astype(np.int64).tolist(),
               "price_per_post": listed("price_per_post", top["price"]),
               "expected_posts": listed("expected_posts", top["posts"].astype(float))}
    for name, by_q in values.items():  # each creator's band as a dict, built in one pass per field
        columns[name] = [None] * len(order) if by_q is None else \
            [{"mean": m, "p10": lo, "p50": mid, "p90": hi}
             for m, lo, mid, hi in zip(*(listed(name, by_q[q]) for q in ("mean", *QUANTS)), strict=True)]
    keys = ("rank", *columns, "reasons")
    return [dict(zip(keys, record, strict=True))
            for record in zip(range(1, len(order) + 1), *columns.values(), reasons, strict=True)]
