"""Backtests of the engine on held-out campaigns, and, for simulated data, against the truth.

- forecast: for each held-out campaign, the forecast of its actual roster (who was paid, as the posts show)
  against what was observed: 80% interval coverage and the median absolute percentage error of the median,
  beside the truth's own error on the same campaigns;
- roster (simulated data): the engine's roster for a budget scored by the truth, against an oracle that picks
  with the truth;
- ranking (simulated data): NDCG@50 of the ranking by predicted profit against true expected profit, beside
  rankings by followers and by the tier x platform x niche median engagement, and beside rankings informed by
  the truth itself except for each creator's own conversion effect (the most any ranking can hope for).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from microlift.models import economics, metrics
from microlift.models import features as F
from microlift.models.brief import Brief
from microlift.models.candidates import eligible, score
from microlift.models.datasets import Dataset
from microlift.models.forecast import budget_slopes, plan_roster, simulate, summarise
from microlift.models.ranking import creator_values, rank
from microlift.models.roster import Slopes, choose, value
from microlift.training.prepare import held_out
from microlift.training.simulation import expectations as ex
from microlift.training.simulation.config import DEFAULT

BRIEF_FIELDS = ("niche", "product_price", "baseline_units_per_month", "compensation", "marketplace",
                "discount_code", "gift_value", "commission_rate", "weeks", "margin")


def brief_of(campaign: dict, **extra) -> Brief:
    """The brief a planner would have written for a recorded campaign."""
    fields = {k: campaign[k] for k in BRIEF_FIELDS if k in campaign and pd.notna(campaign[k])}
    fields["discount_code"] = bool(fields.get("discount_code", False))
    for name in ("product_price", "baseline_units_per_month", "weeks", "gift_value", "commission_rate", "margin"):
        if name in fields:
            fields[name] = float(fields[name])
    return Brief.from_mapping({**fields, **extra})


def candidates_of(dataset: Dataset) -> pd.DataFrame:
    creators = F.with_history(dataset.creators, F.creator_history(dataset.posts, dataset.creators))
    return F.with_track_record(creators, F.creator_track_record(dataset.posts, dataset.creators))


def backtest_case(dataset: Dataset, compensation: str, size: int = 800, seed: int = 1) -> tuple[Brief, pd.DataFrame]:
    """The brief and candidates the roster and ranking backtests share: a fitness product at $30 on Amazon for 8
    weeks, and `size` random Instagram and TikTok creators (most of whom no simulated planner would pick)."""
    candidates = candidates_of(dataset)
    social = candidates[candidates["platform"].isin(["instagram", "tiktok"])]
    pool = social.sample(min(size, len(social)), random_state=seed)
    brief = Brief.from_mapping({"niche": "fitness", "product_price": 30.0, "baseline_units_per_month": 500,
                                "compensation": compensation, "marketplace": "amazon", "weeks": 8})
    return brief, pool.reset_index(drop=True)


def forecast_backtest(dataset: Dataset, models: dict, draws: int = 400, seed: int = 0) -> dict[str, float]:
    """Coverage and MdAPE of forecasts of held-out campaigns' rosters against observed incremental units/month."""
    campaigns = dataset.campaigns[dataset.campaigns["units_per_month_during"].notna()]
    campaigns = campaigns[held_out(campaigns["campaign_id"])]
    creators = candidates_of(dataset).set_index("creator_id", drop=False)
    rosters = dataset.truth.get("truth_rosters")
    rows = []
    for campaign in campaigns.to_dict("records"):
        if rosters is not None:  # the simulator knows everyone who was invited, posting or not
            members = rosters.loc[rosters["campaign_id"] == campaign["campaign_id"], "creator_id"]
        else:
            members = dataset.posts.loc[dataset.posts["campaign_id"] == campaign["campaign_id"], "creator_id"]
        invited = creators.loc[pd.unique(members)].reset_index(drop=True)
        brief = brief_of(campaign)
        scored = score(brief, invited, models)
        rng = np.random.default_rng(seed)
        draws_ = simulate(brief, scored, np.ones(len(scored), dtype=bool), models["lift"],
                          rng.random((draws, len(scored))), rng.standard_normal(draws))
        bands = summarise(brief, draws_)["incremental_units_per_month"]
        rows.append({"campaign_id": campaign["campaign_id"], **bands,
                     "observed": campaign["units_per_month_during"] - campaign["baseline_units_per_month"]})
    table = pd.DataFrame(rows)
    out = {"forecast.campaigns": float(len(table)),
           "forecast.coverage_80": metrics.coverage(table["observed"], table["p10"], table["p90"]),
           "forecast.mdape": metrics.mdape(table["observed"], table["p50"])}
    truth = dataset.truth.get("truth_campaigns")
    if truth is not None:
        expected = table["campaign_id"].map(truth.set_index("campaign_id")["expected_incremental_units_per_month"])
        out["forecast.mdape_truth"] = metrics.mdape(table["observed"], expected.to_numpy(dtype=float))
    return out


def _truth_frame(brief: Brief, candidates: pd.DataFrame, latents: pd.DataFrame) -> pd.DataFrame:
    """Per candidate, the truth's expected impressions, engagements, attributed units (over the campaign) and cost:
    each creator's share of `expectations.roster_cost` (the commission on the truth's own units, for affiliates)."""
    campaign = as_campaign(brief)
    people = candidates.merge(latents, on="creator_id", how="left")
    expected = ex.roster_posts(campaign, people)
    per = expected.assign(imp=expected["weight"] * expected["expected_impressions"],
                          eng=expected["weight"] * expected["expected_engagements"] * expected["relevance"],
                          conv=expected["weight"] * expected["expected_conversions"], posts=expected["weight"])
    sums = per.groupby("creator_id", sort=False)[["imp", "eng", "conv", "posts"]].sum().reindex(people["creator_id"])
    conv = sums["conv"].to_numpy()
    gift = economics.gift_cost(brief.product_price, campaign.get("gift_value"), DEFAULT.shipping_cost)
    per_unit = economics.commission_rate(campaign.get("commission_rate")) * brief.product_price
    fees = sums["posts"].to_numpy() * people["price_per_post"].to_numpy(dtype=float)
    cost = economics.campaign_cost(brief.compensation, gift, per_unit, np.ones(len(people)), fees, conv)
    return pd.DataFrame({"creator_id": people["creator_id"].to_numpy(), "platform": people["platform"].to_numpy(),
                         "niche": people["niche"].to_numpy(),
                         "tier": np.asarray(F.TIERS)[F.tier_index(people["followers"].to_numpy())],
                         "impressions": sums["imp"].to_numpy(), "engagements": sums["eng"].to_numpy(),
                         "relevant_engagements": sums["eng"].to_numpy(),  # the truth's engagements count relevance
                         "conversions": conv, "cost": cost})


def as_campaign(brief: Brief) -> dict:
    """A brief as the simulator's campaign mapping (what `expectations` reads)."""
    return {"niche": brief.niche, "product_price": brief.product_price, "compensation": brief.compensation,
            "marketplace": brief.marketplace, "discount_code": brief.discount_code, "weeks": brief.weeks,
            "baseline_units_per_month": brief.baseline_units_per_month, "gift_value": brief.gift_value,
            "commission_rate": brief.commission_rate}


def true_units(brief: Brief, roster: pd.DataFrame, latents: pd.DataFrame) -> float:
    """The truth's expected incremental units/month of inviting `roster` (creators-table rows)."""
    people = roster.merge(latents, on="creator_id", how="left")
    return ex.expected_campaign_outcome(as_campaign(brief), people)["expected_incremental_units_per_month"]


def roster_backtest(brief: Brief, candidates: pd.DataFrame, latents: pd.DataFrame, models: dict,
                    budget: float) -> dict[str, float]:
    """The engine's roster against an oracle that knows the truth, both scored by the truth, same budget; with
    what each roster truly costs."""
    scored = score(brief, candidates, models)
    pool = np.ones(len(scored), dtype=bool)
    engine = plan_roster(brief, scored, budget, models["lift"], None, pool)
    truth = _truth_frame(brief, candidates, latents)
    # Both choose under the engine's cost estimates, so that both spend the budget as the engine counts it. (With
    # true costs an affiliate oracle picks by what commissions truly cost, which no roster planned by estimates can
    # be held to; what each roster truly costs is reported beside.)
    oracle = oracle_roster(brief, candidates, latents, scored["cost"].to_numpy(), budget)
    engine_units = true_units(brief, candidates[engine], latents)
    oracle_units = true_units(brief, candidates[oracle], latents)
    return {"roster.true_units": engine_units, "roster.oracle_units": oracle_units,
            "roster.share_of_oracle": engine_units / oracle_units if oracle_units > 0 else float("nan"),
            "roster.creators": float(engine.sum()), "roster.oracle_creators": float(oracle.sum()),
            "roster.true_cost": float(truth["cost"].to_numpy()[engine].sum()),
            "roster.oracle_true_cost": float(truth["cost"].to_numpy()[oracle].sum())}


def oracle_roster(brief: Brief, candidates: pd.DataFrame, latents: pd.DataFrame, cost: np.ndarray,
                  budget: float) -> np.ndarray:
    """The roster an oracle that knows the truth chooses for `budget`, spending it at `cost` (the engine's estimates,
    so that both spend the budget as the engine counts it)."""
    known = _truth_frame(brief, candidates, latents).assign(cost=cost)
    return choose(known, budget, _truth_slopes(brief, candidates, latents, known, budget))


def _truth_slopes(brief, candidates, latents, truth, budget, rounds: int = 2, step: float = 1.5) -> Slopes:
    """Secant slopes of the truth's lift with engagement (or conversions) scaled around the oracle's roster."""
    campaign = as_campaign(brief)
    slopes = Slopes(1.0 / max(truth["engagements"].mean(), 1.0), 1.0 / max(truth["conversions"].mean(), 1e-6))
    for _ in range(rounds):
        chosen = choose(truth, budget, slopes)
        posts = ex.roster_posts(campaign, candidates[chosen].merge(latents, on="creator_id", how="left"))

        def units(e: float = 1.0, c: float = 1.0, posts=posts) -> float:
            scaled = posts.assign(expected_engagements=posts["expected_engagements"] * e,
                                  expected_impressions=posts["expected_impressions"] * e,
                                  expected_conversions=posts["expected_conversions"] * c)
            return ex.lift_from_posts(campaign, scaled)["expected_incremental_units_per_month"]

        def reach(e: float, chosen=chosen) -> float:
            return value(truth.assign(engagements=truth["engagements"] * e), chosen, Slopes(1.0, 0.0))

        conv = float(truth.loc[chosen, "conversions"].sum())
        s_e = (units(e=step) - units(e=1 / step)) / max(reach(step) - reach(1 / step), 1e-9)
        s_c = (units(c=step) - units(c=1 / step)) / max(conv * (step - 1 / step), 1e-9)
        slopes = Slopes(max(s_e, 0.0), max(s_c, 0.0))
    return slopes


def ndcg(scores: np.ndarray, gains: np.ndarray, k: int = 50) -> float:
    """NDCG@k of ordering by `scores` (ties broken by position), with non-negative gains."""
    gains = np.maximum(np.asarray(gains, dtype=float), 0.0)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:k]
    ideal = np.sort(gains)[::-1][:k]
    best = float((ideal * discount[:len(ideal)]).sum())
    return float((gains[order] * discount[:len(order)]).sum()) / best if best > 0 else float("nan")


def _added_profit(brief: Brief, truth: pd.DataFrame, roster: np.ndarray) -> np.ndarray:
    """Each candidate's expected profit by the truth (`truth`: its `_truth_frame`): the incremental revenue x margin
    it adds to `roster` (or, if in it, loses when left out), less its cost."""
    added = ex.marginal_units(as_campaign(brief), truth, roster)
    return added * brief.months * brief.product_price * brief.margin_or_revenue - truth["cost"].to_numpy()


def _views_roster(brief: Brief, frame: pd.DataFrame, cost: np.ndarray, budget: float) -> np.ndarray:
    """Greedy by `expectations.marginal_units` per dollar until the budget (spent at `cost`) or the gains run out."""
    campaign, chosen, spent = as_campaign(brief), np.zeros(len(frame), dtype=bool), 0.0
    while True:
        gain = ex.marginal_units(campaign, frame, chosen) / np.maximum(cost, 1e-9)
        gain[chosen | (spent + cost > budget + 1e-9)] = -np.inf
        best = int(np.argmax(gain))
        if not gain[best] > 0:
            return chosen
        chosen[best], spent = True, spent + cost[best]


def _views_profit(brief: Brief, candidates: pd.DataFrame, scored: pd.DataFrame, budget: float) -> np.ndarray:
    """Each candidate's profit from the model's predictions (impressions = `avg_views` x expected posts) valued by
    the truth's arithmetic, against the roster that arithmetic buys for `budget` at the engine's costs."""
    views = pd.DataFrame({"platform": scored["platform"].to_numpy(), "niche": scored["niche"].to_numpy(),
                          "impressions": candidates["avg_views"].to_numpy(dtype=float) * scored["posts"].to_numpy(),
                          "engagements": scored["relevant_engagements"].to_numpy(),
                          "conversions": scored["conversions"].to_numpy()})
    cost = scored["cost"].to_numpy()
    added = ex.marginal_units(as_campaign(brief), views, _views_roster(brief, views, cost, budget))
    return added * brief.months * brief.product_price * brief.margin_or_revenue - cost


def ranking_backtest(brief: Brief, candidates: pd.DataFrame, latents: pd.DataFrame, models: dict,
                     budget: float, evidence: pd.DataFrame | None = None) -> dict[str, float]:
    """NDCG@50 of ranking by predicted profit against each creator's true expected profit: what the creator adds
    to the roster the truth would pick for `budget` (incremental revenue x margin - cost), beside two hand
    rankings: by followers, and by the tier x platform x niche median of engagements per dollar.

    With `evidence` (`conversion_evidence`), also the NDCG@50 of two rankings that know everything in the truth
    except each creator's own conversion effect, which they replace by its expectation given the creator's
    engagement effect (`ranking.ndcg50_informed_prior`) or, better, given that and every attributed unit of the
    creator's campaign posts as well (`ranking.ndcg50_informed_posterior`): what any ranking can hope for. And
    the NDCG@50 of those knowable engagements and units valued by the engine's own arithmetic, as `rank` values
    its predictions (`ranking.ndcg50_knowable_engine`): what better predictions alone could bring.

    And, for any pool, the NDCG@50 of the model's own predictions valued by the truth's arithmetic instead, where
    creators of a niche and platform overlap in views (impressions = `avg_views` x expected posts), with the
    truth's audience pools and halo, each against the roster that arithmetic would buy for `budget` at the
    engine's costs (`ranking.ndcg50_views`): what counting overlap in views could bring at best.

    And the NDCG@50 of the model's ranking against the other reading of a creator's true expected profit: what it
    would bring if it were the only creator hired (`ranking.ndcg50_alone`), with no roster around it.
    """
    scored = score(brief, candidates, models)
    objective = brief.default_objective  # profit with a margin, else net revenue: what `_added_profit` counts
    ranked = rank(brief, candidates, scored, models, objective, top_k=len(candidates), budget=budget)
    predicted = pd.Series({r["creator_id"]: r[objective]["mean"] for r in ranked})
    truth = _truth_frame(brief, candidates, latents)
    roster = choose(truth, budget, _truth_slopes(brief, candidates, latents, truth, budget))
    true_profit = _added_profit(brief, truth, roster)
    ids = candidates["creator_id"].to_numpy()
    by_hand = pd.DataFrame({"tier": scored["tier"], "platform": scored["platform"], "niche": scored["niche"],
                            "per_dollar": np.exp(candidates["hist_log_er_mean"].to_numpy(dtype=float))
                            * candidates["followers"].to_numpy() / np.maximum(scored["cost"].to_numpy(), 1e-6)})
    group = by_hand.groupby(["tier", "platform", "niche"])["per_dollar"].transform("median").fillna(0.0)
    out = {"ranking.ndcg50": ndcg(predicted.reindex(ids).to_numpy(), true_profit),
           "ranking.ndcg50_followers": ndcg(candidates["followers"].to_numpy(), true_profit),
           "ranking.ndcg50_tier_median": ndcg(group.to_numpy(), true_profit)}
    out["ranking.ndcg50_views"] = ndcg(_views_profit(brief, candidates, scored, budget), true_profit)
    alone = _added_profit(brief, truth, np.zeros(len(candidates), dtype=bool))
    out["ranking.ndcg50_alone"] = ndcg(predicted.reindex(ids).to_numpy(), alone)
    if evidence is not None:
        # the knowable engagements and units, valued by the engine's own arithmetic (as `rank` values predictions)
        known = knowable(brief, candidates, latents)
        as_known = scored.assign(engagements=known["engagements"].to_numpy(), relevance=1.0,  # already relevant
                                 conversions=known["conversions"].to_numpy())
        slopes = budget_slopes(brief, scored, models["lift"], None, eligible(brief, scored), budget)
        valued = creator_values(brief, as_known, slopes, bands=False)[objective]["mean"]
        out["ranking.ndcg50_knowable_engine"] = ndcg(valued, true_profit)
        mine = latents.set_index("creator_id").reindex(ids)
        for name, effect in conversion_effect_estimates(mine, evidence).items():
            informed = _truth_frame(brief, candidates, mine.assign(conv_effect=effect).reset_index())
            out[f"ranking.ndcg50_informed_{name}"] = ndcg(_added_profit(brief, informed, roster), true_profit)
            if name == "prior":
                informed_profit = _added_profit(brief, informed, roster)
        # DESIGN §5a's yardstick: the model's NDCG against what is knowable, and the share of the informed top 50's
        # true profit that the model's top 50 captures
        out["ranking.ndcg50_ratio"] = out["ranking.ndcg50"] / out["ranking.ndcg50_informed_prior"]
        out["ranking.top50_capture"] = _captured(predicted.reindex(ids).to_numpy(), informed_profit, true_profit)
    return out


def _captured(scores: np.ndarray, informed: np.ndarray, true_profit: np.ndarray, k: int = 50) -> float:
    """True profit of the top k by `scores` over that of the top k by `informed` (ties by position)."""
    ours = np.argsort(-scores, kind="stable")[:k]
    theirs = np.argsort(-informed, kind="stable")[:k]
    best = float(np.maximum(true_profit[theirs], 0.0).sum())
    return float(np.maximum(true_profit[ours], 0.0).sum()) / best if best > 0 else float("nan")


def knowable(brief: Brief, candidates: pd.DataFrame, latents: pd.DataFrame) -> pd.DataFrame:
    """Each candidate's expected engagements and attributed units over the campaign by the truth (`_truth_frame`),
    with the creator's own conversion effect at its expectation given the engagement effect: what a model of the
    data could know on average."""
    mine = latents.set_index("creator_id").reindex(candidates["creator_id"])
    typical = mine.assign(conv_effect=conversion_effect_estimates(mine, evidence=None)["prior"]).reset_index()
    return _truth_frame(brief, candidates, typical)


def conversion_evidence(dataset: Dataset) -> pd.DataFrame:
    """Every campaign post with observed units: creator_id, conversions, and the truth's expected units of the
    post without its creator's own conversion effect (`rest`)."""
    posts = dataset.posts[dataset.posts["campaign_id"].notna() & dataset.posts["conversions"].notna()]
    posts = posts.merge(dataset.truth["truth_posts"][["post_id", "expected_conversions"]], on="post_id")
    effect = posts["creator_id"].map(dataset.truth["truth_creators"].set_index("creator_id")["conv_effect"])
    return pd.DataFrame({"creator_id": posts["creator_id"].to_numpy(),
                         "conversions": posts["conversions"].to_numpy(dtype=float),
                         "rest": (posts["expected_conversions"] / np.exp(effect)).to_numpy(dtype=float)})


def conversion_effect_estimates(latents: pd.DataFrame, evidence: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """For creators (`latents` indexed by creator_id, with er_effect), ln E[exp(conv_effect)]: given the
    engagement effect alone (`prior`), and given it and their campaign posts' units too (`posterior`), under the
    simulator's own model (normal effects correlated as configured; negative binomial units per post)."""
    cfg = DEFAULT

    sd = cfg.creator_conversion_sd * np.sqrt(1 - cfg.creator_effect_correlation**2)
    mean = (cfg.creator_conversion_sd * cfg.creator_effect_correlation / cfg.creator_engagement_sd
            * latents["er_effect"].to_numpy(dtype=float))
    grid = np.linspace(-4.0, 4.0, 321)
    log_post = -0.5 * ((grid[None, :] - mean[:, None]) / sd) ** 2
    mine = evidence[evidence["creator_id"].isin(latents.index)] if evidence is not None else []
    if len(mine):
        k = cfg.conversion_shape
        y = mine["conversions"].to_numpy()[:, None]
        lam = mine["rest"].to_numpy()[:, None] * np.exp(grid)[None, :]
        loglik = y * np.log(lam) - (y + k) * np.log(lam + k)  # negative binomial, up to terms free of the effect
        sums = pd.DataFrame(loglik).groupby(mine["creator_id"].to_numpy()).sum()
        log_post[latents.index.get_indexer(sums.index)] += sums.to_numpy()
    weights = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    posterior = np.log((weights * np.exp(grid)).sum(axis=1) / weights.sum(axis=1))
    return {"prior": mean + sd**2 / 2, "posterior": posterior}
