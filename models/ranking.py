"""Ranking a campaign's candidates by the objective a planner picks, with ranges and reasons in plain words."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from models import features as F
from models.brief import OBJECTIVES, Brief
from models.candidates import candidate_rows, conversion_bands, eligible, shared_matrices
from models.forecast import initial_slopes
from models.roster import Slopes

# Campaign-level features are the same for every candidate: they never explain why one creator beats another.
_CAMPAIGN_ONLY = {"log_product_price", "discount_code", "marketplace", "compensation", "sponsored", "format"}
QUANTS = ("p10", "p50", "p90")


def _describe(feature: str, row: Mapping, brief: Brief) -> str:
    """Plain words for a feature's value in one candidate's row."""
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


def contributions(model, rows: pd.DataFrame, X: np.ndarray | None = None) -> pd.DataFrame:
    """Per-feature contributions (LightGBM's own SHAP values, log scale) of each row's prediction (`X`: the rows'
    feature matrix, when the caller has built it already)."""
    X = F.matrix(model.kind, rows, model.features_) if X is None else X
    values = model.booster_.predict(X, pred_contrib=True)[:, :-1]
    return pd.DataFrame(values, columns=model.features_, index=rows.index)


def _reasons(models: dict, rows: pd.DataFrame, scored: pd.DataFrame, norms: np.ndarray, brief: Brief,
             objective: str, top: int = 3, matrices: tuple[np.ndarray, np.ndarray] | None = None) -> list[list[str]]:
    """Top reasons of each row: the largest model contributions, and for paid posts the price against the
    median price of the candidates' tier and platform (`norms`). `matrices`: the rows' engagement and conversion
    feature matrices, if already built."""
    X_e, X_c = matrices or (None, None)
    parts = []
    if objective in ("engagement", "profit", "roi"):
        parts.append(("engagement", contributions(models["engagement"], rows, X_e)))
    if objective in ("conversions", "profit", "roi"):
        parts.append(("conversions", contributions(models["conversion"], rows, X_c)))
    shown = [(quantity, [f for f in table.columns if f not in _CAMPAIGN_ONLY], table) for quantity, table in parts]
    parts = [(quantity, names, table[names].to_numpy()) for quantity, names, table in shown]
    price, tier, platform = (scored[c].to_numpy() for c in ("price", "tier", "platform"))
    out = []
    for pos, record in enumerate(rows.to_dict("records")):
        row = record | {"price": price[pos]}
        candidates = []
        for quantity, names, values in parts:
            for feature, c in zip(names, values[pos].tolist(), strict=True):
                if abs(c) < 0.03:
                    continue
                candidates.append((abs(c), f"{_describe(feature, row, brief)}: {math.expm1(c) * 100:+.0f}% {quantity}"))
        if brief.compensation == "paid" and objective in ("profit", "roi") and norms[pos] > 0:
            ratio = price[pos] / norms[pos]
            if abs(ratio - 1) > 0.15:
                word = "above" if ratio > 1 else "below"
                candidates.append((abs(math.log(ratio)), f"price {word} {tier[pos]} {platform[pos]} norm: "
                                                          f"{(1 / ratio - 1) * 100:+.0f}% ROI"))
        out.append([text for _, text in sorted(candidates, key=lambda t: -t[0])[:top]])
    return out


def _engaged(engagements: np.ndarray, platform: np.ndarray) -> np.ndarray:
    """`features.unique_engagements` of each creator alone, with the pools looked up once per platform."""
    codes, names = pd.factorize(np.asarray(platform, dtype=object), use_na_sentinel=False)  # missing: smallest pool
    pool = F.engaged_pools(np.asarray(names, dtype=object))[codes]
    return pool * -np.expm1(-np.asarray(engagements, dtype=float) / pool)


def creator_values(brief: Brief, scored: pd.DataFrame, slopes: Slopes,
                   quantiles: tuple[str, ...] = QUANTS) -> dict[str, dict[str, np.ndarray]]:
    """Per creator, over the campaign: engagements, attributed units, incremental revenue, cost, profit, ROI.

    `quantiles=("p50",)` computes the medians alone (what the ranking sorts on), with the same arithmetic.
    """
    wanted = QUANTS if set(quantiles) != {"p50"} else ("p50",)
    posts = scored["posts"].to_numpy()
    eng = {q: posts * scored[f"engagements_per_post_{q}"].to_numpy() for q in wanted}
    # without conversion bands (see candidates.conversion_bands) every quantile is the mean
    conv = {q: posts * scored.get(f"conversions_per_post_{q}", scored["conversions_per_post_mean"]).to_numpy()
            for q in wanted}
    mean_conv = scored["conversions"].to_numpy()
    mean_eng = scored["engagements"].to_numpy()
    platform = scored["platform"].to_numpy()
    revenue = {}
    for q in wanted:
        # the middle value is the expectation (what the roster and the forecast count), not the product of medians
        units = slopes.engagement * _engaged(mean_eng if q == "p50" else eng[q], platform) + slopes.conversion * \
            (mean_conv if q == "p50" else conv[q])
        revenue[q] = units * brief.months * brief.product_price
    p = scored["posting"].to_numpy()
    if brief.compensation == "gifting":
        cost = {q: scored["cost"].to_numpy() for q in QUANTS}
    elif brief.compensation == "paid":
        paid = scored["cost_if_posting"].to_numpy()
        cost = {q: np.where(p > 1 - level, paid, 0.0) for q, level in zip(QUANTS, (0.1, 0.5, 0.9), strict=True)}
    else:
        commission = brief.commission * brief.product_price
        cost = {q: brief.gift + commission * conv[q] for q in wanted}
        cost["p50"] = brief.gift + commission * mean_conv  # the same expected cost the ranking sorts on
    margin = brief.margin_or_revenue
    if wanted == ("p50",):
        profit = {"p50": revenue["p50"] * margin - cost["p50"]}
    else:
        # a skewed count's mean can exceed its p90: keep every range ordered around its middle value
        revenue = {"p10": np.minimum(revenue["p10"], revenue["p50"]), "p50": revenue["p50"],
                   "p90": np.maximum(revenue["p90"], revenue["p50"])}
        profit = {"p10": revenue["p10"] * margin - cost["p90"], "p50": revenue["p50"] * margin - cost["p50"],
                  "p90": revenue["p90"] * margin - cost["p10"]}
    base = np.maximum(cost["p50"], 1e-9)
    roi = {q: profit[q] / base for q in wanted}
    cost = {q: cost[q] for q in wanted}
    return {"engagements": eng, "conversions": conv, "revenue": revenue, "cost": cost, "profit": profit, "roi": roi}


SORT_KEY = {"profit": "profit", "roi": "roi", "conversions": "conversions", "engagement": "engagements"}


def _top(key: np.ndarray, ids: np.ndarray, among: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest `key` values among the positions `among`, ties broken on `ids`: only the
    candidates at or above the k-th value are sorted."""
    if len(among) > k:
        cut = np.partition(key[among], len(among) - k)[len(among) - k]
        among = among[key[among] >= cut]
    return among[np.lexsort((ids[among], -key[among]))][:k]


def rank(brief: Brief, creators: pd.DataFrame, scored: pd.DataFrame, models: dict, objective: str = "profit",
         top_k: int = 50, budget: float | None = None) -> list[dict]:
    """The top_k eligible candidates by the objective's median, each with p10/p50/p90 values and reasons.

    Incremental revenue is the creator's stand-alone share of the lift (the lift model's slopes at the roster the
    budget would buy); ties break on creator_id, so renaming or reordering candidates changes nothing else.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: got {objective!r}; expected one of {', '.join(OBJECTIVES)}")
    pool = eligible(brief, scored)
    if not pool.any():
        return []
    cost = scored["cost"].to_numpy()
    budget = budget or brief.budget or float(np.sort(cost[pool])[:50].sum())
    slopes = initial_slopes(brief, scored, budget, models["lift"], pool)
    if objective == "conversions":
        key = scored["conversions"].to_numpy()  # expected units, not the (integer) median
    else:
        key = creator_values(brief, scored, slopes, ("p50",))[SORT_KEY[objective]]["p50"]
    order = _top(key, scored["creator_id"].to_numpy(), np.flatnonzero(pool), top_k)
    rows = candidate_rows(brief, creators.reset_index(drop=True).iloc[order])
    matrices = shared_matrices(models, rows)
    top = scored.iloc[order].reset_index(drop=True)
    top = top.assign(**{f"conversions_per_post_{q}": v for q, v in conversion_bands(models, rows, matrices[1]).items()})
    values = creator_values(brief, top, slopes)
    medians = scored.groupby(["tier", "platform"])["price"].median()
    norms = medians.reindex(pd.MultiIndex.from_arrays([top["tier"], top["platform"]])).to_numpy()
    reasons = _reasons(models, rows, top, norms, brief, objective, matrices=matrices)
    out = []
    for i, why in enumerate(reasons):
        record = {"rank": i + 1, "creator_id": top["creator_id"].iloc[i],
                  "platform": top["platform"].iloc[i], "niche": top["niche"].iloc[i],
                  "tier": top["tier"].iloc[i], "followers": int(top["followers"].iloc[i]),
                  "price_per_post": float(top["price"].iloc[i]), "expected_posts": float(top["posts"].iloc[i])}
        for name, bands in values.items():
            record[name] = {q: float(bands[q][i]) for q in QUANTS}
        record["reasons"] = why
        out.append(record)
    return out
