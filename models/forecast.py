"""Sales-lift forecast for a campaign and a budget, with Monte Carlo ranges and a budget-response curve.

Uncertainty has two layers: which invited creators post (creator level, drawn per creator) and how the campaign
lands given its posts (campaign level, the lift model's held-out residual spread). Revenue and ROI are over the
campaign's length; ROI = (incremental revenue x margin - cost) / cost, so P(ROI > 0) is the chance it pays back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.brief import Brief
from models.candidates import eligible
from models.features import engaged_pools
from models.roster import Limits, Slopes, choose, lift_slopes

Z90 = 1.2815515655446004


def _bands(values: np.ndarray) -> dict[str, float]:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90)}


def initial_slopes(brief: Brief, scored: pd.DataFrame, budget: float, lift_model, pool: np.ndarray) -> Slopes:
    """Slopes at a first-guess roster (engagement per dollar, until the budget), refined once after a choice."""
    density = scored["engagements"].to_numpy() / np.maximum(scored["cost"].to_numpy(), 1e-6)
    order = np.flatnonzero(pool)[np.argsort(-density[pool])]
    within = order[np.cumsum(scored["cost"].to_numpy()[order]) <= max(budget, scored["cost"].min())]
    guess = np.zeros(len(scored), dtype=bool)
    guess[within if len(within) else order[:1]] = True
    return lift_slopes(brief, scored, guess, lift_model)


def plan_slopes(brief: Brief, scored: pd.DataFrame, budget: float, lift_model, limits: Limits | None,
                pool: np.ndarray) -> Slopes:
    slopes = initial_slopes(brief, scored, budget, lift_model, pool)
    chosen = choose(scored, budget, slopes, limits, pool, seeds=0)  # provisional: only where the slopes are taken
    return lift_slopes(brief, scored, chosen, lift_model) if chosen.any() else slopes


def simulate(brief: Brief, scored: pd.DataFrame, chosen: np.ndarray, lift_model, uniforms: np.ndarray,
             noise: np.ndarray) -> dict[str, np.ndarray]:
    """Monte Carlo draws of incremental units/month and cost (USD) for the chosen creators.

    `uniforms` (draws x chosen creators) decide who posts and `noise` (draws) how the campaign lands; sharing
    them between rosters (common random numbers) makes forecasts of nested rosters comparable draw by draw.
    """
    draws = len(noise)
    picked = scored[chosen].reset_index(drop=True)
    if picked.empty:
        return {"incremental": np.zeros(draws), "cost": np.zeros(draws), "posted": np.zeros(draws)}
    posted = uniforms < picked["posting"].to_numpy()
    per = picked["posts_if_posting"].to_numpy()
    eng = per * picked["engagements_per_post_mean"].to_numpy()
    conv = per * picked["conversions_per_post_mean"].to_numpy()
    cells, cell_of = np.unique(picked["platform"].astype(str) + "/" + picked["niche"].astype(str),
                               return_inverse=True)
    membership = np.zeros((len(picked), len(cells)))
    membership[np.arange(len(picked)), cell_of] = 1.0
    cell_eng = (posted * eng) @ membership
    pools = engaged_pools([c.split("/")[0] for c in cells])
    unique = (pools * -np.expm1(-cell_eng / pools)).sum(axis=1)
    rows = pd.DataFrame({"pred_engagements": posted @ eng, "pred_unique_engagements": unique,
                         "pred_conversions": posted @ conv, "creators": posted.sum(1), "posts": posted @ per})
    rows = rows.assign(**{k: v for k, v in brief.context().items() if k not in rows.columns})
    z = lift_model.predict_log_multiple(rows)
    spread = np.where(noise > 0, z["p90"] - z["p50"], z["p50"] - z["p10"]) / Z90
    incremental = brief.baseline_units_per_month * np.expm1(z["p50"] + noise * spread)
    if brief.compensation == "gifting":
        cost = np.full(draws, brief.gift * len(picked))
    elif brief.compensation == "paid":
        cost = posted @ picked["cost_if_posting"].to_numpy()
    else:
        cost = brief.gift * len(picked) + brief.commission * brief.product_price * (posted @ conv)
    return {"incremental": incremental, "cost": cost, "posted": posted.sum(1)}


def summarise(brief: Brief, draws: dict[str, np.ndarray]) -> dict:
    """p10/p50/p90 of every forecast quantity, and P(ROI > 0)."""
    baseline = brief.baseline_units_per_month
    incremental = draws["incremental"]
    revenue = incremental * brief.months * brief.product_price
    cost = draws["cost"]
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(cost > 0, (revenue * brief.margin_or_revenue - cost) / cost, 0.0)
    out = {
        "baseline_units_per_month": baseline,
        "units_per_month_during": _bands(baseline + incremental),
        "lift_multiple": _bands((baseline + incremental) / baseline) if baseline > 0 else None,
        "incremental_units_per_month": _bands(incremental),
        "incremental_units": _bands(incremental * brief.months),
        "incremental_revenue": _bands(revenue),
        "cost": _bands(cost),
        "roi": _bands(roi),
        "p_roi_positive": float(np.mean(roi > 0)) if cost.any() else 0.0,
        "creators_posting": _bands(draws["posted"]),
        "draws": int(len(incremental)),
    }
    return out


def _rosters(scored: pd.DataFrame, budgets: np.ndarray, middle: int, main: np.ndarray, slopes: Slopes,
             limits: Limits | None, pool: np.ndarray) -> dict[int, np.ndarray]:
    """Nested rosters for the curve: larger budgets extend the main roster, smaller ones choose within it."""
    rosters = {middle: main}
    for k in range(middle + 1, len(budgets)):
        rosters[k] = choose(scored, float(budgets[k]), slopes, limits, pool, start=rosters[k - 1], seeds=0)
    for k in range(middle - 1, -1, -1):
        try:
            rosters[k] = choose(scored, float(budgets[k]), slopes, limits, rosters[k + 1], seeds=0)
        except ValueError:  # e.g. the must-include creators do not fit the smaller budgets
            break
    return rosters


def budget_curve(brief: Brief, scored: pd.DataFrame, budgets: np.ndarray, rosters: dict[int, np.ndarray],
                 lift_model, uniforms: np.ndarray, columns: np.ndarray, noise: np.ndarray) -> list[dict]:
    """Forecast at each budget, with the marginal return of the step from the budget before."""
    curve = []
    for k in sorted(rosters):
        chosen = rosters[k]
        draws = simulate(brief, scored, chosen, lift_model, uniforms[:, columns[chosen]], noise)
        summary = summarise(brief, draws)
        revenue = draws["incremental"] * brief.months * brief.product_price
        curve.append({"budget": float(budgets[k]), "creators": int(chosen.sum()),
                      "expected_cost": float(scored.loc[chosen, "cost"].sum()),
                      "incremental_units_per_month": summary["incremental_units_per_month"],
                      "incremental_revenue": summary["incremental_revenue"], "roi": summary["roi"],
                      "p_roi_positive": summary["p_roi_positive"], "mean_revenue": float(revenue.mean())})
    margin = brief.margin_or_revenue
    for before, after in zip(curve, curve[1:], strict=False):
        spend = after["expected_cost"] - before["expected_cost"]
        gain = (after["mean_revenue"] - before["mean_revenue"]) * margin
        after["marginal_roas"] = float(gain / spend) if spend > 0 else None
    for point in curve:
        point.pop("mean_revenue")
    return curve


def suggest(curve: list[dict], target_roas: float) -> dict:
    """The budget past which each extra dollar brings back less than `target_roas` dollars of revenue x margin.

    Marginal returns come from expected revenue; the crossing is the last one from above (a dip that recovers
    is not a stopping point), interpolated in log budget.
    """
    note = f"budget past which an extra dollar brings back less than {target_roas:g} dollar(s) of revenue x margin"
    steps = [(c["budget"], c["marginal_roas"]) for c in curve[1:] if c.get("marginal_roas") is not None]
    if not steps:
        return {"budget": None, "target_roas": target_roas, "note": "not enough budgets to tell"}
    above = [k for k, (_, roas) in enumerate(steps) if roas >= target_roas]
    if not above:
        return {"budget": curve[0]["budget"], "target_roas": target_roas,
                "note": note + "; already below the target at the smallest budget tried (0.25x)"}
    last = above[-1]
    if last == len(steps) - 1:
        return {"budget": steps[-1][0], "target_roas": target_roas,
                "note": note + "; still above the target at the largest budget tried (4x)"}
    (b0, r0), (b1, r1) = steps[last], steps[last + 1]
    share = (r0 - target_roas) / (r0 - r1)
    return {"budget": float(np.exp(np.log(b0) + share * (np.log(b1) - np.log(b0)))), "target_roas": target_roas,
            "note": note}


def roster_table(scored: pd.DataFrame, chosen: np.ndarray) -> dict:
    """The chosen creators and the split of cost by tier and platform."""
    picked = scored[chosen]
    columns = ["creator_id", "platform", "niche", "tier", "followers", "price", "cost", "posting", "posts",
               "engagements", "conversions"]
    split = {key: {str(k): {"creators": int(len(g)), "cost": float(g["cost"].sum())}
                   for k, g in picked.groupby(key, sort=True)} for key in ("tier", "platform")}
    return {"creators": picked[columns].to_dict("records"), "total_cost": float(picked["cost"].sum()),
            "by_tier": split["tier"], "by_platform": split["platform"]}


def forecast(brief: Brief, scored: pd.DataFrame, lift_model, budget: float, limits: Limits | None = None,
             draws: int = 1000, seed: int = 0, target_roas: float = 1.0, curve_points: int = 9) -> dict:
    """Roster for `budget` (USD), its forecast, the budget-response curve and the suggested budget.

    Deterministic for a seed. `curve_points` (odd, at least 3) budgets run from 0.25x to 4x `budget`.
    """
    if not np.isfinite(budget) or budget < 0:
        raise ValueError(f"budget: got {budget!r}; expected a number >= 0 (USD)")
    if curve_points < 3 or curve_points % 2 == 0:
        raise ValueError(f"curve_points: got {curve_points!r}; expected an odd number >= 3")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(draws)
    pool = eligible(brief, scored)
    if budget == 0 or not pool.any():
        empty = np.zeros(len(scored), dtype=bool)
        zero = summarise(brief, simulate(brief, scored, empty, lift_model, np.zeros((draws, 0)), noise))
        return {"budget": budget, "roster": roster_table(scored, empty), "forecast": zero, "budget_curve": [],
                "suggested_budget": {"budget": None, "target_roas": target_roas,
                                     "note": "no budget or no eligible creators"}}
    slopes = plan_slopes(brief, scored, budget, lift_model, limits, pool)
    main = choose(scored, budget, slopes, limits, pool)
    budgets = budget * np.geomspace(0.25, 4.0, curve_points)
    rosters = _rosters(scored, budgets, curve_points // 2, main, slopes, limits, pool)
    union = rosters[max(rosters)]
    # Each creator of the largest roster gets a column of `uniforms`, ordered by what the creator is (not by row
    # position or id), so reordering or renaming candidates draws the same futures for the same creators.
    members = np.flatnonzero(union)
    content = scored.iloc[members]
    order = np.lexsort((content["cost"].to_numpy(), content["conversions"].to_numpy(),
                        content["engagements"].to_numpy(), content["followers"].to_numpy()))
    columns = np.zeros(len(scored), dtype=int)
    columns[members[order]] = np.arange(len(members))
    uniforms = rng.random((draws, int(union.sum())))
    summary = summarise(brief, simulate(brief, scored, main, lift_model, uniforms[:, columns[main]], noise))
    curve = budget_curve(brief, scored, budgets, rosters, lift_model, uniforms, columns, noise)
    return {"budget": budget, "roster": roster_table(scored, main), "forecast": summary, "budget_curve": curve,
            "suggested_budget": suggest(curve, target_roas),
            "slopes": {"units_per_engaged_person": slopes.engagement, "units_per_attributed_unit": slopes.conversion}}
