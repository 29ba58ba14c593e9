"""Sales-lift forecast for a campaign and a budget, with Monte Carlo ranges and a budget-response curve.

Uncertainty has two layers: which invited creators post (creator level, drawn per creator) and how the campaign
lands given its posts (campaign level, the lift model's held-out residual spread). Money is over the campaign's
length: ROAS = incremental revenue / cost always; ROI = (incremental revenue x gross margin - cost) / cost only when
the brief gives a margin (revenue is not profit), so P(ROI > 0) is the chance it pays back. Every band carries its
`mean` (the expected value, what adds up) beside p10/p50/p90.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

from microlift.models import economics, workload
from microlift.models import features as F
from microlift.models.brief import Brief
from microlift.models.calibration import Calibration
from microlift.models.calibration import apply as calibrate
from microlift.models.candidates import eligible
from microlift.models.economics import campaign_cost, sales_scale, unique_reach, unique_reach_in_place
from microlift.models.errors import PlanningError
from microlift.models.features import engaged_pools
from microlift.models.roster import Candidates, Limits, Slopes, largest, lift_slopes, prefix, sequence

Z90 = 1.2815515655446004


def _bands(values: np.ndarray) -> dict[str, float]:
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return {"mean": float(np.mean(values)), "p10": float(p10), "p50": float(p50), "p90": float(p90)}


# Creators in the roster where a brief's slopes are taken: about the reference campaign's 211 (DESIGN §2), so that the
# slopes, and with them every roster and forecast of the brief, do not depend on the budget asked.
REFERENCE_CREATORS = 200


SHORTLIST = 20


def brief_slopes(brief: Brief, scored: pd.DataFrame, lift_model, limits: Limits | None, pool: np.ndarray,
                 candidates: Candidates | None = None) -> Slopes:
    """The lift model's slopes for a brief, whatever the budget: at a first guess of REFERENCE_CREATORS creators
    (relevant engagement per dollar), refined once at the roster those slopes choose."""
    c = candidates or Candidates.of(scored)
    among = np.flatnonzero(pool)
    guess = np.zeros(len(scored), dtype=bool)
    guess[largest(c.eng / np.maximum(c.cost, 1e-6), among, REFERENCE_CREATORS)] = True
    slopes = lift_slopes(brief, scored, guess, lift_model)
    chosen = reference_roster(scored, slopes, limits, pool, c)
    if not chosen.any() or np.array_equal(chosen, guess):  # the same roster: the same slopes
        return slopes
    return lift_slopes(brief, scored, chosen, lift_model)


def reference_roster(scored: pd.DataFrame, slopes: Slopes, limits: Limits | None, pool: np.ndarray,
                     candidates: Candidates) -> np.ndarray:
    """The roster of up to REFERENCE_CREATORS that `slopes` choose (`roster.sequence`), as a boolean mask."""
    c = candidates
    reach, units = slopes.engagement * unique_reach(c.eng, c.pools), slopes.conversion * c.conv
    chosen = np.zeros(len(scored), dtype=bool)
    if (limits is None or limits == Limits()) and np.count_nonzero(pool) <= REFERENCE_CREATORS:
        # every eligible creator fits: without limits the greedy takes each one who adds anything (a creator's gain
        # shrinks as its cell fills, but stays above zero), whatever the order
        chosen[pool & (c.cost >= 0) & ((reach > 0) | (units > 0))] = True
        return chosen
    alone = reach + units
    # the roster is chosen among the creators worth most per dollar on their own (a greedy of 200 steps takes from
    # far fewer than SHORTLIST x 200 of them; the whole catalog would be read for nothing)
    shortlist = np.zeros(len(scored), dtype=bool)
    shortlist[largest(alone / np.maximum(c.cost, 1e-6), np.flatnonzero(pool), SHORTLIST * REFERENCE_CREATORS)] = True
    chosen[sequence(scored, slopes, limits, shortlist, c, max_creators=REFERENCE_CREATORS)] = True
    return chosen


def plan_sequence(brief: Brief, scored: pd.DataFrame, lift_model, limits: Limits | None, pool: np.ndarray,
                  candidates: Candidates | None = None) -> tuple[np.ndarray, Slopes]:
    """The brief's one nested sequence of rosters (`roster.sequence`, up to the cap on a roster's creators) and the
    slopes it was chosen with. Every budget's roster is a prefix of it."""
    c = candidates or Candidates.of(scored)
    slopes = brief_slopes(brief, scored, lift_model, limits, pool, c)
    workload.check("taking the lift model's slopes")
    return sequence(scored, slopes, limits, pool, c, max_creators=workload.MAX_ROSTER), slopes


def budget_slopes(brief: Brief, scored: pd.DataFrame, lift_model, limits: Limits | None, pool: np.ndarray,
                  budget: float) -> Slopes:
    """The lift model's slopes at the roster `budget` buys from the brief's sequence (at least its first creator, the
    smallest roster there is): what one more creator adds to that roster (the ranking's value of a creator when a
    budget is given)."""
    c = Candidates.of(scored)
    order, slopes = plan_sequence(brief, scored, lift_model, limits, pool, c)
    if not len(order):
        return slopes
    chosen = np.zeros(len(scored), dtype=bool)
    chosen[order[:max(prefix(order, c.cost, budget), 1)]] = True
    return lift_slopes(brief, scored, chosen, lift_model)


def plan_roster(brief: Brief, scored: pd.DataFrame, budget: float, lift_model, limits: Limits | None = None,
                pool: np.ndarray | None = None) -> np.ndarray:
    """The roster the forecast chooses for `budget` (a boolean mask): the prefix of the brief's sequence it buys."""
    pool = eligible(brief, scored) if pool is None else pool
    order, _ = plan_sequence(brief, scored, lift_model, limits, pool)
    chosen = np.zeros(len(scored), dtype=bool)
    chosen[order[:prefix(order, scored["cost"].to_numpy(dtype=float), budget)]] = True
    return chosen


def _levels(rosters: list[np.ndarray]) -> np.ndarray:
    """For nested rosters (each holds the one before), the index of the first roster each creator is in
    (len(rosters) for creators in none)."""
    level = np.full(len(rosters[0]), len(rosters))
    for k in range(len(rosters) - 1, -1, -1):
        if k + 1 < len(rosters) and (rosters[k] & ~rosters[k + 1]).any():
            raise ValueError("rosters of a budget curve must be nested")
        level[rosters[k]] = k
    return level


def response_inputs(rows) -> tuple[np.ndarray, np.ndarray]:
    """What `saturating` fits the lift model's answers on: each row's unique engagements and attributed units per
    baseline unit and month."""
    return (np.expm1(F.LIFT_FEATURES["log_unique_engagements_per_baseline_month"](rows)),
            np.expm1(F.LIFT_FEATURES["log_conversions_per_baseline_month"](rows)))


# Rows `saturating` fits on: an even spread of them by reach (a few hundred answers pin five parameters down).
FIT_ROWS = 400


def fit_rows(u: np.ndarray, fit_on: np.ndarray | None = None) -> np.ndarray:
    """The rows `saturating` fits on (positions): FIT_ROWS of the rows `fit_on` marks (all when None), evenly spread
    by their unique engagements `u`."""
    among = np.flatnonzero(fit_on) if fit_on is not None else np.arange(len(u))
    if not len(among):
        return among
    return among[np.argsort(u[among], kind="stable")[np.linspace(0, len(among) - 1,
                                                                min(len(among), FIT_ROWS)).astype(int)]]


def saturating(u: np.ndarray, c: np.ndarray, z: dict[str, np.ndarray],
               fit_on: np.ndarray | None = None, at: np.ndarray | None = None,
               answer: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The lift model's answers for one campaign's rosters, smoothed by a Hill response (Robyn, Meridian).

    A tree model answers in steps, so along a budget curve a late step can gain more per dollar than an early
    one. Its medians are refitted, by least squares over the rows `fit_rows` picks among those `fit_on` marks (all
    when None), as ln multiple = a + ln(1 + beta x c + H x u^s / (u^s + K^s)), with u and c the rows' unique
    engagements and attributed units per baseline unit and month (`response_inputs`) and 0 < s <= 1: rising and
    concave in the roster. The p10/p90 keep their distance from the median. Fitting on a brief's fixed grid of
    rosters makes the answer for a roster independent of which other rosters were asked about. Only the rows fitted
    on and those whose answers are read need the lift model's answers in `z`: the others may hold anything. `at`
    is `fit_rows`' answer, when the caller has it; `answer` the rows whose smoothed answers are returned (all when
    None).
    """
    y = z["p50"]
    answer = np.arange(len(y)) if answer is None else answer
    among = np.flatnonzero(fit_on) if fit_on is not None else np.arange(len(u))
    at = fit_rows(u, fit_on) if at is None else at
    if not len(at) or np.ptp(y[at]) <= 1e-12 or not (u[among] > 0).any():
        return {k: v[answer] for k, v in z.items()}
    u_ref, c_ref = float(np.median(u[among][u[among] > 0])), float(np.max(c[among]))
    u, c = u / u_ref, c / (c_ref if c_ref > 0 else 1.0)
    log_u = np.log(np.where(u[at] > 0, u[at], 1.0))

    def parts(p, u, c):
        x = np.exp(np.exp(p[4]) * (np.log(np.where(u > 0, u, 1.0)) - p[3])) * (u > 0)  # (u / K)^s
        return x, 1.0 + np.exp(p[1]) * c + np.exp(p[2]) * x / (1.0 + x)

    def residual(p):
        return p[0] + np.log(parts(p, u[at], c[at])[1]) - y[at]

    def jacobian(p):
        x, inner = parts(p, u[at], c[at])
        bend = np.exp(p[2]) * x / (1.0 + x) ** 2 * np.exp(p[4]) / inner
        return np.column_stack([np.ones(len(at)), np.exp(p[1]) * c[at] / inner,
                                np.exp(p[2]) * x / (1.0 + x) / inner, -bend, bend * (log_u - p[3])])

    spread = float(np.ptp(y[at]))
    start = np.r_[float(y[at].min()), -1.0, np.clip(np.log(max(np.expm1(min(spread, 20.0)), 1e-3)), -20, 10), 0.0,
                  -0.1]
    # a relative tolerance of 1e-4 moves the smoothed answers by under 0.2% (far inside their p10-p90), and stops
    # the fit in a few dozen steps where the curve is flat and the saturation point unidentified (500 at 1e-6)
    fit = optimize.least_squares(residual, start, jac=jacobian, method="trf", ftol=1e-4, xtol=1e-4,
                                 bounds=(np.r_[-np.inf, -20.0, -20.0, -8.0, -2.0], np.r_[np.inf, 10.0, 10.0, 8.0, 0.0]))
    smooth = fit.x[0] + np.log(parts(fit.x, u[answer], c[answer])[1])
    return {k: smooth + (v[answer] - y[answer]) for k, v in z.items()}


def simulate_nested(brief: Brief, scored: pd.DataFrame, rosters: list[np.ndarray], lift_model, uniforms: np.ndarray,
                    columns: np.ndarray, noise: np.ndarray, fit_on: np.ndarray | None = None,
                    calibration: Calibration | None = None,
                    shift_noise: np.ndarray | None = None,
                    keep: np.ndarray | None = None) -> list[dict[str, np.ndarray] | None]:
    """Monte Carlo draws of incremental units/month and cost (USD) for each of nested rosters, in one pass.

    Column `columns[i]` of `uniforms` (draws x creators of the largest roster) decides whether creator i posts,
    and `noise` (draws) how the campaign lands; sharing them between rosters (common random numbers) makes the
    forecasts of nested rosters comparable draw by draw. Sums run once per (roster level, platform/niche cell)
    and accumulate across levels; the lift model answers every roster's draws in one call. For three rosters or
    more (a budget curve) its answers are smoothed by `saturating`, fitted on the rosters `fit_on` marks (all when
    None). A brand's `calibration` (`models.calibration`) scales how the campaign lands and moves every roster's
    draws by its offset, drawn per draw by `shift_noise`. `keep` (a boolean per roster, all when None) says whose
    draws are answered; the others' are None (rosters that only shape the smoothing).
    """
    draws, count = len(noise), len(rosters)
    level = _levels(rosters)
    members = np.flatnonzero(level < count)
    if not len(members):
        return [{"incremental": np.zeros(draws), "cost": np.zeros(draws), "posted": np.zeros(draws),
                 "incremental_models": np.zeros(draws)}] * count
    picked = scored.iloc[members]
    cells, cell = np.unique(picked["platform"].astype(str) + "/" + picked["niche"].astype(str), return_inverse=True)
    cell, lvl = cell.reshape(-1), level[members]
    per = picked["posts_if_posting"].to_numpy(dtype=float)
    eng = per * picked["engagements_per_post_mean"].to_numpy(dtype=float)
    relevant = eng * picked["relevance"].to_numpy(dtype=float)
    conv = per * picked["conversions_per_post_mean"].to_numpy(dtype=float)
    posted = (uniforms[:, columns[members]] < picked["posting"].to_numpy(dtype=float)).astype(float)
    # per level: posting creators, posts, engagements, conversions and fees of those who post
    by_level = np.zeros((len(members), 5 * count))
    for q, values in enumerate((np.ones(len(members)), per, eng, conv,
                                picked["cost_if_posting"].to_numpy(dtype=float))):
        by_level[np.arange(len(members)), q * count + lvl] = values
    totals = np.cumsum((posted @ by_level).reshape(draws, 5, count), axis=2)
    creators, posts, engagements, conversions, fees = (totals[:, q, :] for q in range(5))
    # per level and cell: engagements, for the overlap within each cell; level-major, so that adding up the levels
    # adds whole (cells x draws) blocks
    order = np.lexsort((cell, lvl))
    key = lvl[order] * len(cells) + cell[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sums = np.add.reduceat((posted * relevant)[:, order], starts, axis=1)
    by_cell = np.zeros((count, len(cells), draws))
    by_cell.reshape(count * len(cells), draws)[key[starts]] = sums.T
    for k in range(1, count):  # in place (numpy's cumsum into its own input copies it first)
        by_cell[k] += by_cell[k - 1]
    pools = engaged_pools([c.split("/")[0] for c in cells])[None, :, None]
    unique = unique_reach_in_place(by_cell, pools).sum(axis=1).reshape(-1)  # (levels x draws), as the rows run
    rows = {"pred_engagements": engagements.T.reshape(-1), "pred_unique_engagements": unique,
            "pred_conversions": conversions.T.reshape(-1), "creators": creators.T.reshape(-1),
            "posts": posts.T.reshape(-1)}
    rows = F.Columns.of(rows, **{k: v for k, v in brief.context().items() if k not in rows})
    read = np.ones(count, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    needed = np.repeat(read, draws)
    if count >= 3:  # a budget curve: its rosters span the range a saturating response can be fitted over
        u, c = response_inputs(rows)
        fit_on = None if fit_on is None else np.repeat(np.asarray(fit_on, dtype=bool), draws)
        at = fit_rows(u, fit_on)
        needed[at] = True
    # the lift model answers the rows read and those the smoothing is fitted on (a grid roster's other draws are
    # neither)
    if needed.all():
        z = lift_model.predict_log_multiple(rows)
    else:
        some = lift_model.predict_log_multiple(rows.take(np.flatnonzero(needed)))
        z = {k: np.zeros(len(needed)) for k in some}
        for k, v in some.items():
            z[k][needed] = v
    # from here on, the rosters read alone
    read_rows = np.flatnonzero(np.repeat(read, draws))
    z = saturating(u, c, z, fit_on, at, answer=read_rows) if count >= 3 else {k: v[read_rows] for k, v in z.items()}
    z = {k: v.reshape(-1, draws) for k, v in z.items()}
    spread = np.where(noise > 0, z["p90"] - z["p50"], z["p50"] - z["p10"]) / Z90
    scale = float(sales_scale(brief.baseline_units_per_month))
    models = incremental = scale * np.expm1(z["p50"] + noise * spread)  # the models' own: what calibration reads
    if calibration is not None and calibration.active:
        incremental = scale * np.expm1(z["p50"] + noise * spread * calibration.scale)
        incremental = calibrate(incremental.T, calibration, shift_noise).T
    invited = np.cumsum(np.bincount(lvl, minlength=count))
    row_of = np.cumsum(read) - 1  # each read roster's row of `incremental`
    out = []
    for k in range(count):
        if not read[k]:
            out.append(None)
            continue
        cost = np.broadcast_to(campaign_cost(brief.compensation, brief.gift, brief.commission_per_unit,
                                             invited[k], fees[:, k], conversions[:, k]), (draws,))
        if invited[k] == 0:
            out.append({"incremental": np.zeros(draws), "cost": np.zeros(draws), "posted": np.zeros(draws),
                        "incremental_models": np.zeros(draws)})
        else:
            out.append({"incremental": incremental[row_of[k]], "cost": cost, "posted": creators[:, k],
                        "incremental_models": models[row_of[k]]})
    return out


def simulate(brief: Brief, scored: pd.DataFrame, chosen: np.ndarray, lift_model, uniforms: np.ndarray,
             noise: np.ndarray) -> dict[str, np.ndarray]:
    """Monte Carlo draws of incremental units/month and cost (USD) for the chosen creators.

    `uniforms` (draws x chosen creators, in row order) decide who posts and `noise` (draws) how the campaign lands.
    """
    columns = np.zeros(len(scored), dtype=int)
    columns[np.asarray(chosen, dtype=bool)] = np.arange(int(np.sum(chosen)))
    return simulate_nested(brief, scored, [np.asarray(chosen, dtype=bool)], lift_model, uniforms, columns, noise)[0]


def summarise(brief: Brief, draws: dict[str, np.ndarray]) -> dict:
    """The bands of every forecast quantity, P(revenue > cost), and ROI and P(ROI > 0) when there is a margin."""
    baseline = brief.baseline_units_per_month
    incremental = draws["incremental"]
    revenue = incremental * brief.months * brief.product_price
    cost = draws["cost"]
    out = {
        "baseline_units_per_month": baseline,
        "units_per_month_during": _bands(baseline + incremental),
        "lift_multiple": _bands((baseline + incremental) / baseline) if baseline > 0 else None,
        "incremental_units_per_month": _bands(incremental),
        "incremental_units": _bands(incremental * brief.months),
        "incremental_revenue": _bands(revenue),
        "cost": _bands(cost),
        **_returns(brief, revenue[:, None], cost[:, None])[0],
        "margin": brief.margin,
        "creators_posting": _bands(draws["posted"]),
        "draws": int(len(incremental)),
    }
    return out


def _returns(brief: Brief, revenue: np.ndarray, cost: np.ndarray) -> list[dict]:
    """ROAS, P(revenue > cost), and ROI with P(ROI > 0) when the brief has a margin (None where it has not, or
    where nothing was spent), per column of (draws x budgets) arrays."""
    paid = cost.any(axis=0)
    roas, above = _percentiles(economics.roas(revenue, cost)), (revenue > cost).mean(axis=0)
    roi = None if brief.margin is None else economics.roi(revenue, cost, brief.margin)
    roi_bands, paying = (None, None) if roi is None else (_percentiles(roi), (roi > 0).mean(axis=0))
    return [{"roas": roas[j] if paid[j] else None,
             "p_revenue_above_cost": float(above[j]) if paid[j] else None,
             "roi": roi_bands[j] if paid[j] and roi is not None else None,
             "p_roi_positive": float(paying[j]) if paid[j] and roi is not None else None}
            for j in range(revenue.shape[1])]


def _percentiles(values: np.ndarray) -> list[dict[str, float]]:
    """The band (mean, p10/p50/p90) of each column of a (draws x budgets) array."""
    return [{"mean": float(m), "p10": float(a), "p50": float(b), "p90": float(c)}
            for m, (a, b, c) in zip(values.mean(axis=0), np.percentile(values, [10, 50, 90], axis=0).T, strict=True)]


def budget_curve(brief: Brief, budgets: np.ndarray, rosters: dict[int, np.ndarray], cost: np.ndarray,
                 draws: list[dict[str, np.ndarray]]) -> list[dict]:
    """Forecast at each budget (`draws` per roster, in budget order), with the marginal return of the step from
    the budget before."""
    keys = sorted(rosters)
    incremental = np.stack([d["incremental"] for d in draws], axis=1)
    spend = np.stack([d["cost"] for d in draws], axis=1)
    revenue = incremental * brief.months * brief.product_price
    bands = {"incremental_units_per_month": _percentiles(incremental), "incremental_revenue": _percentiles(revenue)}
    returns = _returns(brief, revenue, spend)
    curve = []
    for j, k in enumerate(keys):
        chosen = rosters[k]
        curve.append({"budget": float(budgets[k]), "creators": int(chosen.sum()),
                      "expected_cost": float(cost[chosen].sum()),
                      **{name: values[j] for name, values in bands.items()}, **returns[j]})
    mean_revenue = revenue.mean(axis=0)
    for j in range(1, len(curve)):
        before, after = curve[j - 1], curve[j]
        step = after["expected_cost"] - before["expected_cost"]
        # the marginal ROAS: expected incremental revenue per extra dollar of expected cost
        after["marginal_roas"] = float((mean_revenue[j] - mean_revenue[j - 1]) / step) if step > 0 else None
    return curve


def suggest(curve: list[dict], target_roas: float, margin: float | None = None) -> dict:
    """The budget past which each extra dollar brings back less than `target_roas` dollars of incremental revenue
    (the marginal ROAS; with a gross margin, 1 / margin is where an extra dollar stops paying for itself in profit).

    Marginal returns come from expected revenue; the crossing is the last one from above (a dip that recovers
    is not a stopping point), interpolated in log budget. When every candidate is already in the roster before the
    largest budget, the suggestion is capped at what they all cost and the note says the candidates ran out; when
    they run out before the smallest budget of the curve, there is nothing to suggest beyond what they cost.
    """
    note = (f"budget past which an extra dollar brings back less than {target_roas:g} USD of incremental revenue "
            "(marginal ROAS)")
    if margin is not None and np.isclose(target_roas, economics.break_even_roas(margin)):
        note += f": where it stops paying for itself at a gross margin of {margin:.0%}"
    if curve and curve[0]["creators"] == curve[-1]["creators"] and curve[0]["creators"] > 0:
        spend, n = curve[0]["expected_cost"], curve[0]["creators"]
        what = (f"the most creators one plan may hold ({n:,}) caps every budget of the curve: they cost"
                if n >= workload.MAX_ROSTER else
                f"the eligible catalog caps every budget of the curve: all {n:,} creators worth adding cost")
        wider = "" if n >= workload.MAX_ROSTER else \
            "; widen the brief's platforms, tiers or filters to give a larger budget somewhere to go"
        return {"budget": None, "target_roas": target_roas,
                "note": f"{what} about {spend:,.0f} USD, less than the smallest budget tried "
                        f"({curve[0]['budget']:,.0f} USD), so no budget above {spend:,.0f} USD buys more{wider}"}
    steps = [(c["budget"], c["marginal_roas"]) for c in curve[1:] if c.get("marginal_roas") is not None]
    if not steps:
        return {"budget": None, "target_roas": target_roas, "note": "not enough budgets to tell"}
    # Once every candidate is in the roster, more budget buys no one else: the suggestion stops there.
    full = next(c for c in curve if c["creators"] == curve[-1]["creators"])
    if full is not curve[-1]:
        out = _crossing(steps, curve, target_roas, note)
        out["note"] += (f"; the candidates run out at about {full['expected_cost']:,.0f} USD ({full['creators']} "
                        "creators): a larger budget buys no one else")
        if out["budget"] is not None and out["budget"] > full["expected_cost"]:
            out["budget"] = float(full["expected_cost"])
        return out
    return _crossing(steps, curve, target_roas, note)


def _crossing(steps: list[tuple[float, float]], curve: list[dict], target_roas: float, note: str) -> dict:
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
    rows = np.flatnonzero(np.asarray(chosen, dtype=bool))
    names = {"creator_id": "creator_id", "platform": "platform", "niche": "niche", "tier": "tier",
             "followers": "followers", "price": "price", "cost": "cost", "posting": "posting", "posts": "posts",
             "engagements": "engagements", "conversions": "attributed_units"}
    values = {shown: scored[column].to_numpy()[rows].tolist() for column, shown in names.items()}
    creators = [dict(zip(values, row, strict=True)) for row in zip(*values.values(), strict=True)]
    cost = values["cost"]
    split = {}
    for key in ("tier", "platform"):
        groups: dict[str, dict] = {}
        for group, spent in zip(values[key], cost, strict=True):
            entry = groups.setdefault(str(group), {"creators": 0, "cost": 0.0})
            entry["creators"] += 1
            entry["cost"] += spent
        split[key] = dict(sorted(groups.items()))
    return {"creators": creators, "total_cost": float(np.sum(cost)) if cost else 0.0,
            "by_tier": split["tier"], "by_platform": split["platform"]}


# Prefix sizes of a brief's sequence where the lift model's answers are smoothed (`saturating`): a fixed grid per brief,
# so the smoothing, and every forecast read off it, is the same whichever budget was asked.
GRID_POINTS = 16


def forecast(brief: Brief, scored: pd.DataFrame, lift_model, budget: float, limits: Limits | None = None,
             draws: int = 1000, seed: int = 0, target_roas: float | None = None,
             curve_points: int = workload.CURVE_POINTS, calibration: Calibration | None = None) -> dict:
    """Roster for `budget` (USD), its forecast, the budget-response curve and the suggested budget.

    Deterministic for a seed. Every roster is a prefix of the brief's one sequence (`plan_sequence`), every creator
    of it draws its own futures (by its place in the sequence), and the lift model's answers are smoothed on a grid
    of the sequence fixed per brief: the forecast for a budget is the same whichever budget was asked, and the curve
    never falls. `curve_points` (odd, at least 3) budgets run from 0.25x to 4x `budget`. The work is bounded by
    `workload`'s caps (draws, creators per roster) whatever the number of candidates; `cap` and `notes` say when a
    cap or the candidates, not the budget, decided the roster. `target_roas` (marginal ROAS where the suggested
    budget stops) defaults to the break-even one (`economics.break_even_roas`). `calibration` moves and widens or
    narrows every draw by what the brand's measured campaigns say (`models.calibration`); the answer says how many.
    """
    if target_roas is None:
        target_roas = economics.break_even_roas(brief.margin)
    if not np.isfinite(budget) or budget < 0:
        raise PlanningError("budget", budget, "a number >= 0 (USD)")
    if curve_points < 3 or curve_points % 2 == 0:
        raise PlanningError("curve_points", curve_points, "an odd number >= 3")
    if not workload.MIN_DRAWS <= draws <= workload.MAX_DRAWS:
        raise PlanningError("draws", draws, f"a whole number from {workload.MIN_DRAWS} to {workload.MAX_DRAWS}")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(draws)
    pool = eligible(brief, scored)
    if budget == 0 or not pool.any():
        empty = np.zeros(len(scored), dtype=bool)
        zero = summarise(brief, simulate(brief, scored, empty, lift_model, np.zeros((draws, 0)), noise))
        return {"budget": budget, "roster": roster_table(scored, empty), "forecast": zero, "budget_curve": [],
                "suggested_budget": {"budget": None, "target_roas": target_roas,
                                     "note": "no budget or no eligible creators"},
                "cap": None, "notes": new_product_notes(brief),
                "calibration": {**(calibration or Calibration()).as_dict(),
                                "models_incremental_units": zero["incremental_units"]}}
    candidates = Candidates.of(scored)
    workload.check("sizing the candidates")
    order, slopes = plan_sequence(brief, scored, lift_model, limits, pool, candidates)
    cost = candidates.cost
    budgets = budget * np.geomspace(0.25, 4.0, curve_points)
    middle = curve_points // 2
    sizes = [prefix(order, cost, b) for b in budgets]
    if limits is not None and sizes[middle] < max(limits.min_creators, len(limits.must_include)):
        _refuse_small(limits, sizes[middle], order, cost, budget)
    grid = np.unique(np.geomspace(1, max(len(order), 1), GRID_POINTS).round().astype(int))
    levels = sorted(set(sizes) | set(grid.tolist()))
    rosters = [_mask(len(scored), order[:n]) for n in levels]
    # each creator of the sequence draws its futures by its place in it: the same whatever the budget asked
    columns = np.zeros(len(scored), dtype=int)
    columns[order] = np.arange(len(order))
    uniforms = rng.random((draws, len(order)))
    active = calibration is not None and calibration.active
    shift_noise = rng.standard_normal(draws) if active else None  # drawn last: uncalibrated draws stay as they were
    workload.check("drawing the forecast")
    nested = simulate_nested(brief, scored, rosters, lift_model, uniforms, columns, noise,
                             fit_on=np.isin(levels, grid) if len(levels) >= 3 else None,
                             calibration=calibration, shift_noise=shift_noise, keep=np.isin(levels, sizes))
    at = {n: k for k, n in enumerate(levels)}
    main = rosters[at[sizes[middle]]]
    summary = summarise(brief, nested[at[sizes[middle]]])
    cap, notes = roster_cap(budget, main, pool, cost, len(order))
    curve = budget_curve(brief, budgets, {k: rosters[at[n]] for k, n in enumerate(sizes)}, cost,
                         [nested[at[n]] for n in sizes])
    return {"budget": budget, "roster": roster_table(scored, main), "forecast": summary, "budget_curve": curve,
            "suggested_budget": suggest(curve, target_roas, brief.margin),
            "slopes": {"units_per_engaged_person": slopes.engagement, "units_per_attributed_unit": slopes.conversion},
            "cap": cap, "notes": notes + new_product_notes(brief),
            "calibration": {**(calibration or Calibration()).as_dict(), "models_incremental_units": _bands(
                nested[at[sizes[middle]]]["incremental_models"] * brief.months)}}


def _mask(n: int, positions: np.ndarray) -> np.ndarray:
    chosen = np.zeros(n, dtype=bool)
    chosen[positions] = True
    return chosen


def _refuse_small(limits: Limits, size: int, order: np.ndarray, cost: np.ndarray, budget: float) -> None:
    """The budget buys fewer creators than the limits ask for (the must-include creators or the minimum)."""
    if len(limits.must_include) > size:
        creator = "the must-include creators"
        raise PlanningError("budget", budget, f"at least {float(cost[order[:len(limits.must_include)]].sum()):,.0f} "
                            f"USD (what {creator} cost)",
                            f"budget: {budget:,.0f} USD does not buy {creator}", unplannable=True)
    raise PlanningError("limits.min_creators", limits.min_creators,
                        f"at most {size} creators (what fits the budget and the limits)",
                        f"limits.min_creators: only {size} creators fit the budget of {budget:,.0f} USD and the "
                        f"limits; asked for {limits.min_creators}", unplannable=True)


def new_product_notes(brief: Brief) -> list[str]:
    """Why the lift multiple is missing for a new product."""
    if brief.baseline_units_per_month > 0:
        return []
    return ["lift_multiple is null: a new product (baseline 0 units/month) has no sales to multiply; units during the "
            "campaign are its own sales (attributed units, word of mouth and the marketplace halo)"]


def roster_cap(budget: float, chosen: np.ndarray, pool: np.ndarray, cost: np.ndarray,
               sequence_size: int) -> tuple[dict | None, list[str]]:
    """What, other than the budget, decided the roster ({"by": "roster_size" | "catalog", "spend", "creators"}, or
    None), and the same in plain words."""
    spent, n = float(cost[chosen].sum()), int(chosen.sum())
    if n >= workload.MAX_ROSTER:
        return ({"by": "roster_size", "spend": spent, "creators": n},
                [f"the roster holds the most creators one plan may hold ({workload.MAX_ROSTER:,}); it costs "
                 f"{spent:,.0f} USD of the {budget:,.0f} USD budget: a larger budget buys no one else"])
    if n >= sequence_size and budget - spent > 0.01 * budget:
        return ({"by": "catalog", "spend": spent, "creators": n},
                [f"the eligible catalog caps the roster: every creator worth adding is in it ({n:,} of "
                 f"{int(pool.sum()):,} eligible, {spent:,.0f} USD); the rest of the {budget:,.0f} USD budget buys no "
                 "one else"])
    return None, []
