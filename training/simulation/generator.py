"""The campaign simulator: samples creators, their organic history, campaigns, rosters, posts and sales.

Every expectation comes from `expectations.py`; this module only adds the documented noise around it.
Deterministic for a seed. Every id carries the seed (`s7-cr0000012`, `s7-cmp00003`, `s7-p00000042`), so datasets
simulated with different seeds never name two different people, campaigns or posts alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from microlift.models import economics
from microlift.models.vocabulary import PLATFORMS, tier_index
from microlift.training.simulation import expectations as ex
from microlift.training.simulation.config import DEFAULT, SimulationConfig


def id_namespace(seed: int) -> str:
    """The prefix of every id in a dataset simulated with `seed` ("s7-"). Sizes are not in it: one seed simulated
    at two sizes names different creators alike, so datasets meant to live in one catalog need their own seeds."""
    return f"s{seed}-"


def _choice(rng: np.random.Generator, shares: dict, size: int) -> np.ndarray:
    keys = list(shares)
    p = np.array([shares[k] for k in keys], dtype=float)
    return np.asarray(keys, dtype=object)[rng.choice(len(keys), size=size, p=p / p.sum())]


def _skew_normal(rng: np.random.Generator, loc: float, scale: float, shape: float, size: int) -> np.ndarray:
    delta = shape / np.sqrt(1 + shape**2)
    u0, u1 = rng.standard_normal(size), rng.standard_normal(size)
    return loc + scale * (delta * np.abs(u0) + np.sqrt(1 - delta**2) * u1)


def _mean_one_lognormal(rng: np.random.Generator, sd: float, size: int) -> np.ndarray:
    return np.exp(rng.normal(-sd**2 / 2, sd, size))


def _formats(rng: np.random.Generator, platform: np.ndarray, cfg: SimulationConfig) -> np.ndarray:
    out = np.empty(len(platform), dtype=object)
    for name, shares in cfg.format_shares.items():
        mask = platform == name
        out[mask] = _choice(rng, shares, int(mask.sum()))
    return out


def sample_creators(n: int, rng: np.random.Generator, cfg: SimulationConfig = DEFAULT,
                    namespace: str = "") -> pd.DataFrame:
    """Creators-table rows plus the latent effects (er_effect, conv_effect) the truth needs; ids start with
    `namespace`."""
    platform = _choice(rng, cfg.platform_shares, n)
    log10 = np.empty(n)
    floor = np.log10(cfg.min_followers)
    for name, (loc, scale, shape) in cfg.followers_log10.items():
        idx = np.flatnonzero(platform == name)
        while len(idx):
            log10[idx] = _skew_normal(rng, loc, scale, shape, len(idx))
            idx = idx[(log10[idx] < floor) | (log10[idx] > 8.5)]
    followers = np.round(10**log10).astype(np.int64)
    decades = log10 - 4.0
    quality = np.clip(rng.beta(*cfg.audience_quality_beta, n) + cfg.audience_quality_per_decade * decades,
                      0.05, 1.0)
    sponsored = np.clip(rng.beta(*cfg.sponsored_share_beta, n) + cfg.sponsored_share_per_decade * decades,
                        0.0, 0.9)
    rho = cfg.creator_effect_correlation
    z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
    er_effect = cfg.creator_engagement_sd * z1
    conv_effect = cfg.creator_conversion_sd * (rho * z1 + np.sqrt(1 - rho**2) * z2)
    rate = np.array([cfg.price_per_1k_followers[p] for p in PLATFORMS])[
        pd.Categorical(platform, categories=PLATFORMS).codes]
    price = rate * followers / 1000 * np.exp(rng.normal(0, cfg.price_sd, n)
                                             + cfg.price_engagement_elasticity * er_effect)
    price = np.maximum(5.0, np.round(price / 5) * 5)
    creators = pd.DataFrame({
        "creator_id": [f"{namespace}cr{i:07d}" for i in range(n)],
        "platform": platform,
        "niche": _choice(rng, cfg.niche_shares, n),
        "followers": followers,
        "following": np.round(np.exp(rng.normal(np.log(700), 0.9, n))).astype(np.int64),
        "posts_count": np.round(np.exp(rng.normal(np.log(450), 0.9, n))).astype(np.int64) + 1,
        "country": _choice(rng, cfg.countries, n),
        "audience_quality": np.round(quality, 3),
        "sponsored_share": np.round(sponsored, 3),
        "price_per_post": price,
        "posts_per_week": np.round(np.array([cfg.posts_per_week[p] for p in platform])
                                   * np.exp(rng.normal(0, 0.5, n)), 1),
        "er_effect": er_effect,
        "conv_effect": conv_effect,
    })
    home_format = np.where(platform == "instagram", "feed", "video")
    views = ex.impressions(creators.assign(format=home_format), cfg) * np.exp(rng.normal(0, 0.15, n))
    creators.insert(7, "avg_views", np.round(views))
    return creators


def sample_history(creators: pd.DataFrame, rng: np.random.Generator,
                   cfg: SimulationConfig = DEFAULT) -> pd.DataFrame:
    """Organic posts (some sponsored by other brands), with their expected values for the truth table."""
    counts = rng.poisson(cfg.history_posts, len(creators)) + 1
    idx = np.repeat(np.arange(len(creators)), counts)
    rows = creators.iloc[idx].reset_index(drop=True)
    n = len(rows)
    rows["format"] = _formats(rng, rows["platform"].to_numpy(), cfg)
    rows["sponsored"] = rng.random(n) < rows["sponsored_share"].to_numpy()
    start = np.datetime64(cfg.window_start, "s")
    rows["posted_at"] = start + (rng.random(n) * cfg.window_days * 86400).astype("timedelta64[s]")
    rows["campaign_id"] = None
    return _observe(rows, rng, cfg)


def _observe(rows: pd.DataFrame, rng: np.random.Generator, cfg: SimulationConfig) -> pd.DataFrame:
    """Draw engagements, impressions (and clicks/conversions for campaign posts) around their expectations."""
    n = len(rows)
    followers = rows["followers"].to_numpy(dtype=float)
    rate = ex.engagement_rate(rows, cfg)
    rows["expected_engagement_rate"] = rate
    rows["expected_log_engagement_rate"] = np.log(rate) - cfg.post_engagement_sd**2 / 2
    rows["engagements"] = rng.poisson(followers * rate * _mean_one_lognormal(rng, cfg.post_engagement_sd, n))
    seen = ex.impressions(rows, cfg)
    rows["expected_impressions"] = seen
    shown = np.round(seen * _mean_one_lognormal(rng, cfg.reach_sd, n)).astype(np.int64)
    rows["impressions"] = np.maximum(shown, rows["engagements"].to_numpy())
    if "compensation" in rows.columns:
        expected_clicks = ex.clicks(rows, cfg)
        expected_units = ex.conversions(rows, cfg)
        rows["expected_clicks"] = expected_clicks
        rows["expected_conversions"] = expected_units
        rows["clicks"] = rng.poisson(expected_clicks * rng.gamma(cfg.click_shape, 1 / cfg.click_shape, n))
        rows["conversions"] = rng.poisson(
            expected_units * rng.gamma(cfg.conversion_shape, 1 / cfg.conversion_shape, n))
    return rows


def sample_campaign(j: int, rng: np.random.Generator, cfg: SimulationConfig, namespace: str = "") -> dict:
    """One campaign brief as a simulated brand would set it; its id starts with `namespace`."""
    compensation = _choice(rng, cfg.compensation_shares, 1)[0]
    price = float(np.clip(np.round(cfg.product_price_median * np.exp(rng.normal(0, cfg.product_price_sd)), 2),
                          5, 500))
    platforms = [_choice(rng, cfg.platform_shares, 1)[0]]
    if rng.random() < cfg.second_platform_share:
        platforms.append(rng.choice([p for p in PLATFORMS if p != platforms[0]]))
    start = np.datetime64(cfg.window_start) + int(rng.integers(60, cfg.window_days - 90))
    budget = cfg.budget_median[compensation] * np.exp(rng.normal(0, cfg.budget_sd))
    gifted = compensation in ("gifting", "affiliate")
    return {
        "campaign_id": f"{namespace}cmp{j:05d}",
        "niche": _choice(rng, cfg.niche_shares, 1)[0],
        "product_price": price,
        "start_date": pd.Timestamp(start),
        "weeks": float(_choice(rng, cfg.weeks_choices, 1)[0]),
        "planned_budget": float(np.clip(budget, *cfg.budget_range)),
        "baseline_units_per_month": 0.0 if rng.random() < cfg.new_product_share else float(np.round(np.clip(
            cfg.baseline_median * np.exp(rng.normal(0, cfg.baseline_sd)), 10, 50_000))),
        "compensation": compensation,
        "margin": float(np.round(rng.uniform(*cfg.margin_range), 2)),
        "marketplace": _choice(rng, cfg.marketplace_shares, 1)[0],
        "discount_code": bool(compensation == "affiliate" or rng.random() < cfg.discount_code_share),
        "gift_value": float(np.round(price * rng.uniform(*cfg.gift_value_multiple), 2)) if gifted else np.nan,
        "commission_rate": float(np.round(rng.uniform(*cfg.commission_range), 3))
        if compensation == "affiliate" else np.nan,
        "platforms": platforms,
    }


def pick_roster(campaign: dict, creators: pd.DataFrame, rng: np.random.Generator,
                cfg: SimulationConfig = DEFAULT, budget: float | None = None) -> np.ndarray:
    """Row positions of the creators a simulated planner invites: weighted picks until the budget is spent."""
    eligible = np.flatnonzero(creators["platform"].isin(campaign["platforms"]).to_numpy())
    pool = creators.iloc[eligible]
    weight = np.where(pool["niche"].to_numpy() == campaign["niche"], cfg.planner_niche_weight, 1.0)
    weight = weight * np.asarray(cfg.planner_tier_weight[campaign["compensation"]])[
        tier_index(pool["followers"].to_numpy())] * pool["audience_quality"].to_numpy() ** 2
    keep = weight > 0
    keys = np.full(len(pool), -np.inf)
    keys[keep] = np.log(rng.random(int(keep.sum()))) / weight[keep]  # weighted sampling without replacement
    top = min(cfg.max_roster, int(keep.sum()))
    order = np.argsort(-keys)[:top]
    candidates = pool.iloc[order]
    compensation, fees, units = campaign["compensation"], 0.0, 0.0
    if compensation == "paid":
        context = ex.campaign_context(candidates, campaign, cfg)
        fees = ex.expected_posts(context, cfg) * candidates["price_per_post"].to_numpy()
    elif compensation == "affiliate":
        expected = ex.roster_posts(campaign, candidates, cfg)
        units = (expected["weight"] * expected["expected_conversions"]).groupby(
            expected["creator_id"], sort=False).sum().reindex(candidates["creator_id"]).to_numpy()
    gift = economics.gift_cost(campaign["product_price"], campaign["gift_value"], cfg.shipping_cost)
    per_unit = economics.commission_rate(campaign["commission_rate"]) * campaign["product_price"]
    cost = economics.campaign_cost(compensation, gift, per_unit, np.ones(len(candidates)), fees, units)
    budget = campaign["planned_budget"] if budget is None else budget
    n = max(1, int(np.searchsorted(np.cumsum(cost), budget, side="right")))
    return eligible[order[:n]]


def run_campaign(campaign: dict, creators: pd.DataFrame, roster: np.ndarray, rng: np.random.Generator,
                 cfg: SimulationConfig = DEFAULT) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Who posts and how often, the posts themselves (unobserved yet), and the roster table."""
    invited = creators.iloc[roster].reset_index(drop=True)
    compensation = campaign["compensation"]
    chance = ex.posting_probability(ex.campaign_context(invited, campaign, cfg), cfg)
    posted = rng.random(len(invited)) < chance
    extra = np.minimum(rng.poisson(cfg.extra_posts[compensation], len(invited)), cfg.max_posts_per_creator - 1)
    n_posts = np.where(posted, 1 + extra, 0)
    rows = ex.campaign_context(invited.iloc[np.repeat(np.arange(len(invited)), n_posts)], campaign, cfg)
    rows = rows.reset_index(drop=True)
    rows["format"] = _formats(rng, rows["platform"].to_numpy(), cfg)
    start = np.datetime64(campaign["start_date"], "s")
    seconds = rng.random(len(rows)) * campaign["weeks"] * 7 * 86400
    rows["posted_at"] = start + seconds.astype("timedelta64[s]")
    rows["campaign_id"] = campaign["campaign_id"]
    rows["posts_by_creator"] = np.repeat(n_posts[posted], n_posts[posted])
    roster_table = pd.DataFrame({"campaign_id": campaign["campaign_id"], "creator_id": invited["creator_id"],
                                 "posted": posted, "posts": n_posts, "posting_probability": chance,
                                 "fee": invited["price_per_post"].to_numpy(dtype=float) if compensation == "paid"
                                 else np.nan})
    return rows, roster_table


def _costs(campaigns: pd.DataFrame, posts: pd.DataFrame, rosters: pd.DataFrame,
           cfg: SimulationConfig) -> tuple[np.ndarray, pd.Series]:
    """Cost of each campaign post, and what each campaign spent in all (USD)."""
    brief = campaigns.set_index("campaign_id").loc[posts["campaign_id"]]
    # a gift (NaN for paid campaigns, which send none) is shared by the creator's posts; commissions follow the
    # units each post sold
    gift = np.nan_to_num(brief["gift_value"].to_numpy(dtype=float)) + cfg.shipping_cost
    per_post_gift = gift / posts["posts_by_creator"].to_numpy()
    per_unit = np.nan_to_num(brief["commission_rate"].to_numpy(dtype=float)) * brief["product_price"].to_numpy()
    compensation = brief["compensation"].to_numpy()
    cost = np.zeros(len(posts))
    for way in np.unique(compensation):
        rows = compensation == way
        cost[rows] = economics.campaign_cost(way, per_post_gift[rows], per_unit[rows], 1.0,
                                             posts["price_per_post"].to_numpy()[rows],
                                             posts["conversions"].to_numpy()[rows])
    spent = pd.Series(cost, index=posts["campaign_id"].to_numpy()).groupby(level=0).sum()
    # gifts sent to creators who never posted are spent too
    silent = rosters[~rosters["posted"]].merge(campaigns[["campaign_id", "compensation", "gift_value"]])
    silent = silent[silent["compensation"] != "paid"]
    unposted = (np.nan_to_num(silent["gift_value"].to_numpy(dtype=float)) + cfg.shipping_cost)
    spent = spent.add(pd.Series(unposted, index=silent["campaign_id"].to_numpy()).groupby(level=0).sum(),
                      fill_value=0.0)
    return np.round(cost, 2), spent.reindex(campaigns["campaign_id"]).fillna(0.0)


def simulate(n_creators: int, n_campaigns: int, seed: int = 0, cfg: SimulationConfig = DEFAULT,
             progress: bool = True, namespace: str | None = None) -> dict[str, pd.DataFrame]:
    """Simulate a full dataset: the contract tables and the truth tables, keyed by table name. Every id starts with
    `namespace` (default: `id_namespace(seed)`)."""
    if n_creators < 1 or n_campaigns < 0:
        raise ValueError("need at least 1 creator and 0 or more campaigns")
    rng = np.random.default_rng(seed)
    namespace = id_namespace(seed) if namespace is None else namespace
    steps = tqdm(total=3 + n_campaigns, desc="simulate", unit="step", disable=not progress)
    creators = sample_creators(n_creators, rng, cfg, namespace)
    steps.update(1)
    history = sample_history(creators, rng, cfg)
    steps.update(1)
    briefs, campaign_rows, roster_tables, ex_ante = [], [], [], []
    for j in range(n_campaigns):
        campaign = sample_campaign(j, rng, cfg, namespace)
        roster = pick_roster(campaign, creators, rng, cfg)
        rows, roster_table = run_campaign(campaign, creators, roster, rng, cfg)
        ex_ante.append(ex.expected_campaign_outcome(campaign, creators.iloc[roster], cfg))
        briefs.append(campaign)
        campaign_rows.append(rows)
        roster_tables.append(roster_table)
        steps.update(1)
    campaigns = pd.DataFrame(briefs)
    rosters = pd.concat(roster_tables, ignore_index=True) if roster_tables else pd.DataFrame(
        columns=["campaign_id", "creator_id", "posted", "posts", "posting_probability", "fee"])
    in_campaigns = _observe(pd.concat(campaign_rows, ignore_index=True), rng, cfg) if campaign_rows else None
    tables = _assemble(creators, history, campaigns, in_campaigns, rosters, ex_ante, rng, cfg, namespace)
    steps.update(1)
    steps.close()
    return tables


def _outcomes(campaigns: pd.DataFrame, posts: pd.DataFrame | None, ex_ante: list[dict],
              rng: np.random.Generator, cfg: SimulationConfig) -> pd.DataFrame:
    """Truth per campaign (ex ante and given who posted) and the observed sales during and after."""
    truth = pd.DataFrame(ex_ante)
    truth.insert(0, "campaign_id", campaigns["campaign_id"].to_numpy())
    given = np.zeros(len(campaigns))
    if posts is not None:
        grouped = dict(tuple(posts.groupby("campaign_id", sort=False)))
        for i, campaign in enumerate(campaigns.to_dict("records")):
            made = grouped.get(campaign["campaign_id"])
            if made is not None:
                lift = ex.lift_from_posts(campaign, made.assign(
                    expected_engagements=made["expected_engagement_rate"] * made["followers"]), cfg)
                given[i] = lift["expected_incremental_units_per_month"]
    truth["expected_incremental_units_per_month_given_posts"] = given
    n = len(campaigns)
    realized = given * _mean_one_lognormal(rng, cfg.campaign_lift_sd, n)
    baseline = campaigns["baseline_units_per_month"].to_numpy()
    carry = campaigns["marketplace"].map(cfg.carryover).to_numpy(dtype=float)
    campaigns["units_per_month_during"] = np.round(
        baseline * np.exp(rng.normal(0, cfg.baseline_drift_sd, n)) + realized, 1)
    campaigns["units_per_month_after"] = np.round(
        baseline * np.exp(rng.normal(0, cfg.baseline_drift_sd, n))
        + carry * realized * np.exp(rng.normal(0, 0.2, n)), 1)
    return truth


def _assemble(creators, history, campaigns, in_campaigns, rosters, ex_ante, rng, cfg,
              namespace: str) -> dict[str, pd.DataFrame]:
    truth_campaigns = None
    if in_campaigns is not None:
        cost, spent = _costs(campaigns, in_campaigns, rosters, cfg)
        in_campaigns["cost"] = cost
        campaigns["budget"] = np.round(spent.to_numpy(), 2)
        truth_campaigns = _outcomes(campaigns, in_campaigns, ex_ante, rng, cfg)
        truth_campaigns["invited"] = rosters.groupby("campaign_id").size().reindex(
            campaigns["campaign_id"]).to_numpy()
        truth_campaigns["posted"] = rosters.groupby("campaign_id")["posted"].sum().reindex(
            campaigns["campaign_id"]).to_numpy()
    posts = pd.concat([history, in_campaigns], ignore_index=True) if in_campaigns is not None else history
    posts = posts.sort_values(["posted_at", "creator_id"], kind="stable").reset_index(drop=True)
    posts["post_id"] = [f"{namespace}p{i:08d}" for i in range(len(posts))]
    post_columns = ["post_id", "creator_id", "posted_at", "engagements", "sponsored", "format", "campaign_id",
                    "impressions", "clicks", "conversions", "cost"]
    for name in ("clicks", "conversions", "cost"):
        if name not in posts.columns:
            posts[name] = np.nan
    out_posts = posts[post_columns].copy()
    for name in ("clicks", "conversions"):
        out_posts[name] = out_posts[name].astype("Int64")
    truth_posts = posts[["post_id", "expected_engagement_rate", "expected_log_engagement_rate",
                         "expected_impressions"]
                        + [c for c in ("expected_clicks", "expected_conversions") if c in posts.columns]]
    creator_columns = [c for c in creators.columns if c not in ("er_effect", "conv_effect")]
    campaign_columns = ["campaign_id", "niche", "product_price", "start_date", "weeks", "budget",
                        "baseline_units_per_month", "compensation", "margin", "marketplace", "discount_code",
                        "gift_value", "commission_rate", "units_per_month_during", "units_per_month_after"]
    tables = {
        "creators": creators[creator_columns],
        "posts": out_posts,
        "truth_creators": creators[["creator_id", "er_effect", "conv_effect"]],
        "truth_posts": truth_posts,
    }
    if truth_campaigns is not None:
        tables["campaigns"] = campaigns[campaign_columns]
        tables["truth_campaigns"] = truth_campaigns
        tables["truth_rosters"] = rosters
        # who was invited and whether any content came (a seeding platform's "no content received")
        tables["invitations"] = rosters[["campaign_id", "creator_id", "posted", "fee"]].copy()
        # the brief's platforms are not part of the contract; keep them with the truth for later analysis
        tables["truth_campaigns"]["platforms"] = campaigns["platforms"].map(",".join).to_numpy()
    return tables
