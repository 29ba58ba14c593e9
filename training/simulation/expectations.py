"""The simulator's noise-free expectations: engagement, reach, conversions per post and a campaign's lift.

These are the ground truth the generator samples around. They work for any creators, any campaign and any
roster (not only simulated ones), so a roster chosen by the engine can be scored against the truth.
Creators without latent effects (`er_effect`, `conv_effect`) are treated as typical (effect 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from math import factorial

import numpy as np
import pandas as pd

from microlift.models import economics
from microlift.models.economics import WEEKS_PER_MONTH
from microlift.models.vocabulary import FORMATS
from microlift.training.simulation.config import DEFAULT, TIER_ANCHORS, SimulationConfig


def _column(frame: pd.DataFrame, name: str, default) -> np.ndarray:
    if name in frame.columns:
        values = frame[name].to_numpy()
        if np.issubdtype(np.asarray(values).dtype, np.floating):
            return np.where(np.isnan(values), default, values)
        return values
    return np.full(len(frame), default)


def tier_anchor(values: tuple[float, float, float, float], followers: np.ndarray) -> np.ndarray:
    """Interpolate per-tier anchor values in log-followers (log-linear, flat beyond the end anchors)."""
    log10 = np.log10(np.maximum(np.asarray(followers, dtype=float), 1.0))
    return np.exp(np.interp(log10, TIER_ANCHORS, np.log(values)))


def _by_platform(table: Mapping[str, tuple], platform: np.ndarray, followers: np.ndarray) -> np.ndarray:
    out = np.zeros(len(platform))
    for name, anchors in table.items():
        mask = platform == name
        if mask.any():
            out[mask] = tier_anchor(anchors, followers[mask])
    return out


def _lookup(table: Mapping[str, float], keys: np.ndarray, default: float = 1.0) -> np.ndarray:
    if len(keys) < 64:
        return np.array([table.get(k, default) for k in keys], dtype=float)
    names = list(table)
    values = np.array([table[k] for k in names] + [default], dtype=float)
    return values[pd.Index(names).get_indexer(keys)]  # -1 (unknown key) picks the default


def engagement_rate(posts: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Expected engagements per follower of each post (mean over post-to-post noise).

    Columns used: platform, followers, niche, format, sponsored, and when present audience_quality,
    sponsored_share, er_effect, compensation (campaign posts) and niche_match.
    """
    platform = posts["platform"].to_numpy()
    followers = posts["followers"].to_numpy(dtype=float)
    rate = _by_platform(cfg.engagement_rate, platform, followers)
    rate *= _lookup(cfg.niche_engagement, posts["niche"].to_numpy())
    rate *= _lookup(cfg.format_engagement, _column(posts, "format", "feed"))
    compensation = _column(posts, "compensation", "")
    sponsored = _column(posts, "sponsored", False).astype(bool)
    in_campaign = compensation != ""
    rate *= np.where(in_campaign, _lookup(cfg.compensation_engagement, compensation),
                     np.where(sponsored, cfg.sponsored_engagement, 1.0))
    rate *= np.exp(-cfg.sponsoring_fatigue * _column(posts, "sponsored_share", 0.07).astype(float))
    rate *= np.where(_column(posts, "niche_match", False).astype(bool), cfg.niche_match_engagement, 1.0)
    rate *= _column(posts, "audience_quality", cfg.typical_audience_quality).astype(float) \
        / cfg.typical_audience_quality
    rate *= np.exp(_column(posts, "er_effect", 0.0).astype(float))
    return rate


def impressions(posts: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Expected impressions (views) of each post; fake followers see nothing."""
    platform = posts["platform"].to_numpy()
    followers = posts["followers"].to_numpy(dtype=float)
    reach = _by_platform(cfg.reach, platform, followers)
    reach *= _lookup(cfg.format_reach, _column(posts, "format", "feed"))
    reach *= _column(posts, "audience_quality", cfg.typical_audience_quality).astype(float) \
        / cfg.typical_audience_quality
    return followers * reach


def clicks(posts: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Expected link or code clicks of each post."""
    rate = _lookup(cfg.click_rate, posts["platform"].to_numpy(), 0.01)
    rate *= _lookup(cfg.format_clicks, _column(posts, "format", "feed"))
    return impressions(posts, cfg) * rate


def conversions(posts: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Expected attributed units of each campaign post.

    Needs, besides the creator and post columns, the campaign's product_price, compensation, marketplace and
    discount_code, and niche_match; conv_effect and er_effect when known.
    """
    followers = posts["followers"].to_numpy(dtype=float)
    units = clicks(posts, cfg) * tier_anchor(cfg.purchase_rate, followers)
    price = posts["product_price"].to_numpy(dtype=float)
    units *= (price / cfg.reference_price) ** cfg.price_elasticity
    units *= np.where(_column(posts, "discount_code", False).astype(bool), cfg.discount_code_conversion, 1.0)
    units *= np.where(_column(posts, "niche_match", False).astype(bool), cfg.niche_match_conversion, 1.0)
    units *= _lookup(cfg.marketplace_conversion, _column(posts, "marketplace", "other"))
    units *= _lookup(cfg.compensation_conversion, _column(posts, "compensation", "paid"))
    units *= _lookup(cfg.country_conversion, _column(posts, "country", ""))
    units *= np.exp(_column(posts, "conv_effect", 0.0).astype(float)
                    + cfg.engagement_conversion_elasticity * _column(posts, "er_effect", 0.0).astype(float))
    return units


def expected_posts(compensation: str, n: int, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Expected number of posts from each of n invited creators (posting probability x posts if posting)."""
    extra = cfg.extra_posts[compensation]
    k = np.arange(cfg.max_posts_per_creator)
    pmf = _poisson_pmf(extra, k)
    pmf[-1] += 1.0 - pmf.sum()
    return np.full(n, cfg.post_probability[compensation] * float(((k + 1) * pmf).sum()))


def _poisson_pmf(mean: float, k: np.ndarray) -> np.ndarray:
    return np.array([np.exp(-mean) * mean ** int(i) / factorial(int(i)) for i in k])


def campaign_context(roster: pd.DataFrame, campaign: Mapping) -> pd.DataFrame:
    """Roster rows joined with the campaign fields the per-post expectations need."""
    return roster.assign(
        compensation=campaign["compensation"], product_price=float(campaign["product_price"]),
        marketplace=campaign.get("marketplace") or "other",
        discount_code=bool(campaign.get("discount_code") or campaign["compensation"] == "affiliate"),
        niche_match=roster["niche"].to_numpy() == campaign["niche"], sponsored=True,
    )


def _unique_share(gross: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Share of a platform/niche cell's impressions that reach someone new: unique reach = pool x (1 - exp(-gross /
    pool)). The cell's engagements and attributed units overlap as its impressions do."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gross > 0, economics.unique_reach(gross, pool) / gross, 1.0)


def _units_per_month(campaign: Mapping, unique_engagements, attributed, cfg: SimulationConfig = DEFAULT) -> dict:
    """Direct and halo units per month during the campaign from its unique engagements and attributed units (numbers,
    or arrays of alternatives)."""
    unique_engagements, attributed = np.asarray(unique_engagements, dtype=float), np.asarray(attributed, dtype=float)
    months = float(campaign["weeks"]) / WEEKS_PER_MONTH
    baseline = float(campaign["baseline_units_per_month"])
    intensity = unique_engagements / months
    half = cfg.halo_engagements_per_baseline_unit * baseline
    marketplace = campaign.get("marketplace") or "other"
    with np.errstate(invalid="ignore", divide="ignore"):
        halo = np.where((intensity > 0) & (baseline > 0), baseline * cfg.halo_max[marketplace] * intensity
                        ** cfg.halo_shape / (intensity ** cfg.halo_shape + half ** cfg.halo_shape), 0.0)
    direct = attributed * (1.0 + cfg.word_of_mouth) / months
    return {"direct": direct, "halo": halo, "incremental": direct + halo}


def lift_from_posts(campaign: Mapping, posts: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> dict:
    """Expected lift of a campaign from its (expected) posts.

    `posts` has one row per post (or per creator and format, weighted) with platform, niche,
    expected_impressions, expected_engagements, expected_conversions and an optional weight (expected
    number of such posts). Units are per month during the campaign.
    """
    weight = _column(posts, "weight", 1.0).astype(float)
    frame = pd.DataFrame({
        "platform": posts["platform"].to_numpy(), "niche": posts["niche"].to_numpy(),
        "impressions": weight * posts["expected_impressions"].to_numpy(dtype=float),
        "engagements": weight * posts["expected_engagements"].to_numpy(dtype=float),
        "conversions": weight * posts["expected_conversions"].to_numpy(dtype=float),
    })
    groups = frame.groupby(["platform", "niche"], sort=False).sum()
    pool = groups.index.get_level_values("platform").map(cfg.audience_pool).to_numpy(dtype=float)
    gross = groups["impressions"].to_numpy()
    unique_share = _unique_share(gross, pool)
    unique_engagements = float((unique_share * groups["engagements"].to_numpy()).sum())
    attributed = float((unique_share * groups["conversions"].to_numpy()).sum())
    units = _units_per_month(campaign, unique_engagements, attributed, cfg)
    return {
        "expected_impressions": float(frame["impressions"].sum()),
        "expected_unique_impressions": float((unique_share * gross).sum()),
        "expected_engagements": float(frame["engagements"].sum()),
        "expected_unique_engagements": unique_engagements,
        "expected_attributed_units": attributed,
        "expected_direct_units_per_month": float(units["direct"]),
        "expected_halo_units_per_month": float(units["halo"]),
        "expected_incremental_units_per_month": float(units["incremental"]),
    }


def marginal_units(campaign: Mapping, creators: pd.DataFrame, roster: np.ndarray,
                   cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Incremental units/month each creator adds to `roster` (a boolean mask), or loses when left out of it.

    `creators` has one row per creator with platform, niche, and its expected impressions, engagements and
    conversions over the campaign (summed over its expected posts). The arithmetic of `lift_from_posts`, for every
    creator at once: a creator changes only its own platform/niche cell.
    """
    roster = np.asarray(roster, dtype=bool)
    codes, cells = pd.factorize(pd.MultiIndex.from_arrays([creators["platform"], creators["niche"]]))
    pool = np.array([cfg.audience_pool[platform] for platform, _ in cells], dtype=float)
    values = {c: creators[c].to_numpy(dtype=float) for c in ("impressions", "engagements", "conversions")}
    cell = {c: np.bincount(codes, weights=v * roster, minlength=len(cells)) for c, v in values.items()}
    share = _unique_share(cell["impressions"], pool)
    unique, attributed = float((share * cell["engagements"]).sum()), float((share * cell["conversions"]).sum())
    sign = np.where(roster, -1.0, 1.0)
    toggled = {c: cell[c][codes] + sign * values[c] for c in cell}
    share_toggled = _unique_share(toggled["impressions"], pool[codes])
    mine = share[codes]
    now = float(_units_per_month(campaign, unique, attributed, cfg)["incremental"])
    other = _units_per_month(
        campaign, unique - mine * cell["engagements"][codes] + share_toggled * toggled["engagements"],
        attributed - mine * cell["conversions"][codes] + share_toggled * toggled["conversions"], cfg)["incremental"]
    return np.where(roster, now - other, other - now)


def roster_posts(campaign: Mapping, roster: pd.DataFrame, cfg: SimulationConfig = DEFAULT,
                 posts_per_creator: np.ndarray | None = None) -> pd.DataFrame:
    """Expected posts of an invited roster: one row per creator and format, weighted by expected count."""
    context = campaign_context(roster.reset_index(drop=True), campaign)
    per_creator = expected_posts(campaign["compensation"], len(context), cfg) if posts_per_creator is None \
        else np.asarray(posts_per_creator, dtype=float)
    parts = []
    for fmt in FORMATS:
        share = context["platform"].map({p: s.get(fmt, 0.0) for p, s in cfg.format_shares.items()})
        share = share.fillna(0.0).to_numpy(dtype=float)
        if not share.any():
            continue
        rows = context.assign(format=fmt)
        rate = engagement_rate(rows, cfg)
        parts.append(pd.DataFrame({
            "creator_id": rows["creator_id"].to_numpy() if "creator_id" in rows else np.arange(len(rows)),
            "platform": rows["platform"].to_numpy(), "niche": rows["niche"].to_numpy(),
            "format": fmt, "weight": per_creator * share,
            "expected_impressions": impressions(rows, cfg),
            "expected_engagements": rate * rows["followers"].to_numpy(dtype=float),
            "expected_conversions": conversions(rows, cfg),
        }))
    return pd.concat(parts, ignore_index=True)


def roster_cost(campaign: Mapping, roster: pd.DataFrame, expected: pd.DataFrame,
                cfg: SimulationConfig = DEFAULT) -> float:
    """Expected spend (USD) on an invited roster under the campaign's way of paying."""
    compensation = campaign["compensation"]
    gift = economics.gift_cost(float(campaign["product_price"]), campaign.get("gift_value"), cfg.shipping_cost)
    fees = units = 0.0
    if compensation == "paid":
        posts = expected.groupby("creator_id", sort=False)["weight"].sum()
        price = roster.set_index("creator_id")["price_per_post"].reindex(posts.index).to_numpy(dtype=float)
        fees = float((posts.to_numpy() * price).sum())
    elif compensation == "affiliate":
        units = float((expected["weight"] * expected["expected_conversions"]).sum())
    per_unit = economics.commission_rate(campaign.get("commission_rate")) * float(campaign["product_price"])
    return float(economics.campaign_cost(compensation, gift, per_unit, len(roster), fees, units))


def expected_campaign_outcome(campaign: Mapping, roster: pd.DataFrame, cfg: SimulationConfig = DEFAULT,
                              posts_per_creator: np.ndarray | None = None) -> dict:
    """Noise-free outcome of inviting `roster` to `campaign`: reach, engagement, units per month, cost.

    `roster` holds creators-table rows (platform, niche, followers, price_per_post, ...); latent effects are
    used when present. By default posting is in expectation (posting probability x posts per creator);
    pass `posts_per_creator` to condition on how many posts each creator actually made.
    """
    if len(roster) == 0:
        empty = pd.DataFrame(columns=["platform", "niche", "expected_impressions", "expected_engagements",
                                      "expected_conversions"])
        return {**lift_from_posts(campaign, empty, cfg), "expected_cost": 0.0}
    expected = roster_posts(campaign, roster, cfg, posts_per_creator)
    outcome = lift_from_posts(campaign, expected, cfg)
    outcome["expected_cost"] = roster_cost(campaign, roster, expected, cfg)
    return outcome
