"""Calibration targets of the simulator and how a simulated dataset measures against them.

Each target names its source (see `config.py` for the abbreviations) and the accepted range. `calibrate`
returns one row per target; the test suite and `microlift calibrate` print it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from microlift.models import economics
from microlift.models.economics import WEEKS_PER_MONTH
from microlift.models.vocabulary import tier_of
from microlift.training.simulation import expectations as ex
from microlift.training.simulation.config import DEFAULT, UNRELATED_AFFINITY, SimulationConfig
from microlift.training.simulation.generator import _observe, pick_roster, run_campaign, sample_creators

Frames = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Target:
    name: str
    source: str
    low: float
    high: float
    measure: Callable[[Frames], float]


def _posts(tables: Frames) -> pd.DataFrame:
    """Posts joined with their creator, tier and observed engagement rate (cached on the dict)."""
    if "_joined" not in tables:
        creators = tables["creators"].assign(tier=lambda c: tier_of(c["followers"].to_numpy()))
        joined = tables["posts"].merge(creators, on="creator_id", how="left")
        joined["er"] = joined["engagements"] / joined["followers"]
        tables["_joined"] = joined
    return tables["_joined"]


def _organic(tables: Frames) -> pd.DataFrame:
    posts = _posts(tables)
    return posts[posts["campaign_id"].isna() & ~posts["sponsored"].astype(bool)]


def _median_er(platform: str, tier: str) -> Callable[[Frames], float]:
    def measure(tables: Frames) -> float:
        organic = _organic(tables)
        return float(organic.loc[(organic["platform"] == platform) & (organic["tier"] == tier), "er"].median())
    return measure


def _er_ratio(platform: str, top: str, bottom: str) -> Callable[[Frames], float]:
    return lambda t: _median_er(platform, top)(t) / _median_er(platform, bottom)(t)


def _tier_share(platform: str, tier: str) -> Callable[[Frames], float]:
    def measure(tables: Frames) -> float:
        creators = tables["creators"]
        creators = creators[creators["platform"] == platform]
        return float((tier_of(creators["followers"].to_numpy()) == tier).mean())
    return measure


def _median_price(platform: str, tier: str) -> Callable[[Frames], float]:
    def measure(tables: Frames) -> float:
        c = tables["creators"]
        mask = (c["platform"] == platform) & (tier_of(c["followers"].to_numpy()) == tier)
        return float(c.loc[mask, "price_per_post"].median())
    return measure


def _sponsored_penalty(tables: Frames) -> float:
    posts = _posts(tables)
    organic = posts[posts["campaign_id"].isna()]
    normal = organic.groupby("creator_id")["er"].transform("median")
    relative = organic["er"] / normal
    return float(relative[organic["sponsored"].astype(bool)].median()
                 / relative[~organic["sponsored"].astype(bool)].median())


def _heavy_sponsor_ratio(tables: Frames) -> float:
    organic = _organic(tables)
    organic = organic[organic["tier"] == "micro"]
    heavy = organic.loc[organic["sponsored_share"] > 0.15, "er"].median()
    light = organic.loc[organic["sponsored_share"] < 0.04, "er"].median()
    return float(heavy / light)


def _campaign_posts(tables: Frames) -> pd.DataFrame:
    posts = _posts(tables)
    made = posts[posts["campaign_id"].notna()]
    return made.merge(tables["campaigns"][["campaign_id", "niche"]].rename(columns={"niche": "campaign_niche"}),
                      on="campaign_id")


def _niche_match_lift(tables: Frames) -> float:
    posts = _posts(tables)
    usual = posts[posts["campaign_id"].isna()].groupby("creator_id")["er"].median()
    made = _campaign_posts(tables)
    relative = made["er"] / made["creator_id"].map(usual)
    match = made["niche"] == made["campaign_niche"]
    return float(relative[match].median() / relative[~match].median())


def _conversion_per_impression(tier: str) -> Callable[[Frames], float]:
    def measure(tables: Frames) -> float:
        made = _campaign_posts(tables)
        made = made[made["tier"] == tier]
        return float(made["conversions"].sum() / made["impressions"].sum() * 1000)
    return measure


def _micro_vs_macro_conversion(tables: Frames) -> float:
    return _conversion_per_impression("micro")(tables) / _conversion_per_impression("macro")(tables)


def _matched_vs_unrelated_conversion(tables: Frames) -> float:
    """Attributed units per impression of posts to the product's own niche over those to an unrelated audience."""
    made = _campaign_posts(tables)
    affinity = ex.affinity(made["niche"].to_numpy(), made["campaign_niche"].to_numpy())
    rate = lambda m: made.loc[m, "conversions"].sum() / made.loc[m, "impressions"].sum()  # noqa: E731
    return float(rate(affinity == 1.0) / rate(affinity <= UNRELATED_AFFINITY))


def _share_selling_nothing(tables: Frames) -> float:
    made = _campaign_posts(tables)
    sold = made.groupby(["campaign_id", "creator_id"])["conversions"].sum()
    return float((sold == 0).groupby(level="campaign_id").mean().median())


def _click_rate(tables: Frames) -> float:
    made = _campaign_posts(tables)
    return float(made["clicks"].sum() / made["impressions"].sum())


def _purchase_rate(tables: Frames) -> float:
    made = _campaign_posts(tables)
    return float(made["conversions"].sum() / made["clicks"].sum())


def _posting_share(way: str) -> Callable[[Frames], float]:
    def measure(tables: Frames) -> float:
        invited = tables["invitations"].merge(tables["campaigns"][["campaign_id", "compensation"]])
        return float(invited.loc[invited["compensation"] == way, "posted"].mean())
    return measure


def _median_roi(tables: Frames) -> float:
    c = tables["campaigns"]
    incremental = c["units_per_month_during"] - c["baseline_units_per_month"]
    revenue = incremental * c["product_price"] * c["weeks"] / WEEKS_PER_MONTH
    return float((revenue / c["budget"]).median())


def _attributed_share(tables: Frames) -> float:
    truth = tables["truth_campaigns"]
    direct = truth["expected_attributed_units"] / (tables["campaigns"]["weeks"].to_numpy() / WEEKS_PER_MONTH)
    return float((direct / truth["expected_incremental_units_per_month_given_posts"]).median())


TARGETS: tuple[Target, ...] = (
    Target("IG tier share nano", "KIM (BENCH 6) 37.4% +-3pp", 0.344, 0.404, _tier_share("instagram", "nano")),
    Target("IG tier share micro", "KIM (BENCH 6) 46.5% +-3pp", 0.435, 0.495, _tier_share("instagram", "micro")),
    Target("IG tier share macro", "KIM (BENCH 6) 13.9% +-3pp", 0.109, 0.169, _tier_share("instagram", "macro")),
    Target("IG tier share mega", "KIM (BENCH 6) 2.2% +-1.5pp", 0.007, 0.037, _tier_share("instagram", "mega")),
    Target("TikTok tier share nano", "between KIM and VN feed (BENCH 6)", 0.31, 0.374,
           _tier_share("tiktok", "nano")),
    Target("TikTok tier share micro", "between KIM and VN feed (BENCH 6)", 0.327, 0.465,
           _tier_share("tiktok", "micro")),
    Target("TikTok tier share macro", "between KIM and VN feed (BENCH 6)", 0.139, 0.26,
           _tier_share("tiktok", "macro")),
    Target("TikTok tier share mega", "between KIM and VN feed (BENCH 6)", 0.022, 0.108,
           _tier_share("tiktok", "mega")),
    Target("IG median ER micro", "DESIGN: ~6%", 0.05, 0.07, _median_er("instagram", "micro")),
    Target("IG median ER mega", "DESIGN: 1-2%", 0.01, 0.02, _median_er("instagram", "mega")),
    Target("TikTok median ER micro", "DESIGN: ~18%", 0.15, 0.21, _median_er("tiktok", "micro")),
    Target("YouTube/IG median ER micro", "DESIGN: YouTube lower", 0.0, 0.5,
           lambda t: _median_er("youtube", "micro")(t) / _median_er("instagram", "micro")(t)),
    *(Target(f"{p} ER micro/{big}", "DESIGN: micro 3-5x macro/mega", 3.0, 5.0, _er_ratio(p, "micro", big))
      for p in ("instagram", "tiktok", "youtube") for big in ("macro", "mega")),
    Target("IG price micro (USD)", "IMH (BENCH 5): $100-500", 100, 500, _median_price("instagram", "micro")),
    Target("IG price nano (USD)", "IMH (BENCH 5): $10-100", 10, 100, _median_price("instagram", "nano")),
    Target("IG price macro (USD)", "IMH (BENCH 5): $500-10,000", 500, 10_000, _median_price("instagram", "macro")),
    Target("TikTok price micro (USD)", "IMH (BENCH 5): $25-125", 25, 125, _median_price("tiktok", "micro")),
    Target("YouTube price micro (USD)", "IMH (BENCH 5): $200-1,000", 200, 1_000,
           _median_price("youtube", "micro")),
    Target("YouTube price mega (USD)", "IMH (BENCH 5): $20,000+", 20_000, 1e6, _median_price("youtube", "mega")),
    Target("sponsored / organic ER", "KIM (BENCH 1): 0.79-0.95", 0.75, 0.95, _sponsored_penalty),
    Target("heavy / light sponsoring ER", "JUDGE: heavy sponsoring lowers ER", 0.0, 0.9, _heavy_sponsor_ratio),
    Target("niche match ER lift", "JUDGE: matching niche raises ER", 1.1, 1.35, _niche_match_lift),
    Target("matched / unrelated niche conversion", "DESIGN §5a: audiences buy what they care about (JUDGE)", 4.0,
           30.0, _matched_vs_unrelated_conversion),
    Target("micro / macro conversion", "DESIGN: micro converts >20% better", 1.2, 10.0,
           _micro_vs_macro_conversion),
    Target("creators selling nothing", "DESIGN: most sell nothing trackable", 0.5, 0.95, _share_selling_nothing),
    Target("clicks / impressions", "BENCH 8 prior: 0.5-5%", 0.005, 0.05, _click_rate),
    Target("purchases / clicks", "BENCH 8 prior: 1-4%", 0.01, 0.04, _purchase_rate),
    Target("gifted creators who post", "article: only some gifted creators post", 0.4, 0.8,
           _posting_share("gifting")),
    Target("paid creators who post", "DESIGN §5a: a paid post at the creator's price is near-certain", 0.9, 1.0,
           _posting_share("paid")),
    Target("median campaign revenue / spend", "IMH (BENCH 8): ~$5.78 per $1; DESIGN ~$6.50", 3.0, 12.0,
           _median_roi),
    Target("attributed share of lift", "BENCH 8: most impact is indirect", 0.0, 0.5, _attributed_share),
)


def calibrate(tables: Frames) -> pd.DataFrame:
    """One row per target: name, source, accepted range, the dataset's value and whether it is in range."""
    rows = []
    for target in TARGETS:
        value = target.measure(tables)
        rows.append({"target": target.name, "source": target.source, "low": target.low, "high": target.high,
                     "actual": value, "ok": bool(target.low <= value <= target.high)})
    tables.pop("_joined", None)
    return pd.DataFrame(rows)


REFERENCE_UNITS_DURING = 2_562.0


def reference_campaign() -> dict:
    """DESIGN §2: Blueland via Stack Influence: gifting ~$47 per creator (product + shipping), ~$9,917 in all,
    211 micro Instagram creators, Amazon, baseline 542 units/month, product ~$21, three months."""
    return {"campaign_id": "reference", "niche": "home", "product_price": 21.0, "weeks": 13.0,
            "planned_budget": 9_917.0, "baseline_units_per_month": 542.0, "compensation": "gifting",
            "marketplace": "amazon", "discount_code": False, "gift_value": 39.0, "commission_rate": np.nan,
            "start_date": pd.Timestamp("2025-03-01"), "platforms": ["instagram"]}


def simulate_reference(draws: int = 200, seed: int = 0, cfg: SimulationConfig = DEFAULT) -> pd.DataFrame:
    """Run the reference campaign `draws` times (a fresh roster of micro Instagram creators each time).

    Returns per draw: roster size, spend, expected and observed units per month during the campaign.
    """
    rng = np.random.default_rng(seed)
    creators = sample_creators(40_000, rng, cfg)
    micro = creators[(creators["platform"] == "instagram")
                     & (tier_of(creators["followers"].to_numpy()) == "micro")].reset_index(drop=True)
    campaign = reference_campaign()
    gift = economics.gift_cost(campaign["product_price"], campaign["gift_value"], cfg.shipping_cost)
    rows = []
    for _ in range(draws):
        roster = pick_roster(campaign, micro, rng, cfg)
        posts, _ = run_campaign(campaign, micro, roster, rng, cfg)
        posts = _observe(posts, rng, cfg)
        lift = ex.lift_from_posts(campaign, posts.assign(
            expected_engagements=posts["expected_engagement_rate"] * posts["followers"]), cfg)
        expected = lift["expected_incremental_units_per_month"]
        observed = campaign["baseline_units_per_month"] * np.exp(rng.normal(0, cfg.baseline_drift_sd)) \
            + expected * np.exp(rng.normal(-cfg.campaign_lift_sd**2 / 2, cfg.campaign_lift_sd))
        rows.append({"creators": len(roster), "spend": len(roster) * gift,
                     "engagements": float(posts["engagements"].sum()),
                     "expected_units_during": campaign["baseline_units_per_month"] + expected,
                     "units_during": observed})
    return pd.DataFrame(rows)
