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
from microlift.models.features import DEFAULT_FORMAT
from microlift.models.vocabulary import FORMATS
from microlift.training.simulation.config import DEFAULT, TIER_ANCHORS, UNRELATED_AFFINITY, SimulationConfig


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
    """Expected attributed units of each campaign post, times the brand world's `brand_lift`.

    Needs, besides the creator and post columns, the campaign's product_price, compensation, marketplace and
    discount_code, and relevance (or campaign_niche); conv_effect and er_effect when known.
    """
    followers = posts["followers"].to_numpy(dtype=float)
    units = clicks(posts, cfg) * tier_anchor(cfg.purchase_rate, followers)
    price = posts["product_price"].to_numpy(dtype=float)
    units *= (price / cfg.reference_price) ** cfg.price_elasticity
    units *= np.where(_column(posts, "discount_code", False).astype(bool), cfg.discount_code_conversion, 1.0)
    units *= cfg.niche_conversion * relevance(posts, cfg)
    units *= _lookup(cfg.marketplace_conversion, _column(posts, "marketplace", "other"))
    units *= _lookup(cfg.compensation_conversion, _column(posts, "compensation", "paid"))
    units *= _lookup(cfg.country_conversion, _column(posts, "country", ""))
    units *= np.exp(_column(posts, "conv_effect", 0.0).astype(float)
                    + cfg.engagement_conversion_elasticity * _column(posts, "er_effect", 0.0).astype(float))
    return units * cfg.brand_lift  # a product people love sells more through every post


def affinity(creator_niche, product_niche, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """How much audiences of `creator_niche` care about a product of `product_niche` (config.niche_affinity); for a
    niche the table does not know, 1 when the two are the same and the unrelated level otherwise."""
    creator_niche = np.asarray(creator_niche, dtype=object)
    product = np.broadcast_to(np.asarray(product_niche, dtype=object), creator_niche.shape)
    names = list(cfg.niche_affinity)
    table = np.array([[cfg.niche_affinity[a].get(b, UNRELATED_AFFINITY) for b in names] for a in names], dtype=float)
    a, b = pd.Index(names).get_indexer(creator_niche), pd.Index(names).get_indexer(product)
    known = (a >= 0) & (b >= 0)
    return np.where(known, table[np.maximum(a, 0), np.maximum(b, 0)],
                    np.where(creator_niche == product, 1.0, UNRELATED_AFFINITY))


def relevance(posts: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Each row's audience affinity for the campaign's product: the `relevance` column, else from `campaign_niche`,
    else 1 where `niche_match` says the niches match and the unrelated level where it says they do not."""
    if "relevance" in posts.columns:
        return posts["relevance"].to_numpy(dtype=float)
    if "campaign_niche" in posts.columns:
        return affinity(posts["niche"].to_numpy(), posts["campaign_niche"].to_numpy(), cfg)
    return np.where(_column(posts, "niche_match", True).astype(bool), 1.0, UNRELATED_AFFINITY)


def posts_if_posting(compensation: str, cfg: SimulationConfig = DEFAULT) -> float:
    """Expected posts of a creator who posts: 1 + Poisson(extra_posts) extra, capped at max_posts_per_creator."""
    extra = cfg.extra_posts[compensation]
    k = np.arange(cfg.max_posts_per_creator)
    pmf = _poisson_pmf(extra, k)
    pmf[-1] += 1.0 - pmf.sum()
    return float(((k + 1) * pmf).sum())


def offer_value(context: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """What an invitation offers each creator per post (USD), `economics.offer_per_post`: for affiliates with the
    truth's expected units of one post in the creator's usual format. `context` is `campaign_context` rows."""
    compensation = context["compensation"].iloc[0] if len(context) else "gifting"
    units = conversions(context.assign(format=context["platform"].map(DEFAULT_FORMAT)), cfg) \
        if compensation == "affiliate" else 0.0
    return economics.offer_per_post(compensation, _column(context, "gift_value", np.nan).astype(float),
                                    context["product_price"].to_numpy(dtype=float),
                                    context["price_per_post"].to_numpy(dtype=float), units,
                                    _column(context, "commission_rate", np.nan).astype(float),
                                    _column(context, "fee", np.nan).astype(float))


def posting_probability(context: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Chance that each invited creator posts at all (DESIGN §5a): the offer against the creator's price per post,
    by way of paying, size and platform (config.posting_*). `context` is `campaign_context` rows."""
    if not len(context):
        return np.zeros(0)
    compensation = context["compensation"].iloc[0]
    price = np.maximum(context["price_per_post"].to_numpy(dtype=float), 1.0)
    ratio = np.maximum(offer_value(context, cfg), 0.01) / price
    decades = np.log10(np.maximum(context["followers"].to_numpy(dtype=float), 1.0)) - TIER_ANCHORS[1]
    logit = (cfg.posting_intercept[compensation] + cfg.posting_offer_slope * np.log(ratio)
             + cfg.posting_per_decade * decades + _lookup(cfg.posting_platform, context["platform"].to_numpy(), 0.0))
    return 1.0 / (1.0 + np.exp(-logit))


def expected_posts(context: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Expected number of posts from each invited creator (posting probability x posts if posting); `context` is
    `campaign_context` rows."""
    if not len(context):
        return np.zeros(0)
    return posting_probability(context, cfg) * posts_if_posting(context["compensation"].iloc[0], cfg)


def _poisson_pmf(mean: float, k: np.ndarray) -> np.ndarray:
    return np.array([np.exp(-mean) * mean ** int(i) / factorial(int(i)) for i in k])


def campaign_context(roster: pd.DataFrame, campaign: Mapping, cfg: SimulationConfig = DEFAULT) -> pd.DataFrame:
    """Roster rows joined with the campaign fields the per-post expectations need."""
    return roster.assign(
        compensation=campaign["compensation"], product_price=float(campaign["product_price"]),
        marketplace=campaign.get("marketplace") or "other",
        discount_code=bool(campaign.get("discount_code") or campaign["compensation"] == "affiliate"),
        gift_value=_number(campaign.get("gift_value")), commission_rate=_number(campaign.get("commission_rate")),
        niche_match=roster["niche"].to_numpy() == campaign["niche"], sponsored=True,
        relevance=affinity(roster["niche"].to_numpy(), campaign["niche"], cfg),
    )


def _number(value) -> float:
    return np.nan if value is None else float(value)


def _units_per_month(campaign: Mapping, unique_engagements, attributed, cfg: SimulationConfig = DEFAULT) -> dict:
    """Direct and halo units per month during the campaign from its engaged people (relevance-weighted, after
    overlap) and attributed units (numbers, or arrays of alternatives). The halo follows the brand world's
    `brand_lift` as the attributed units (`conversions`) do."""
    unique_engagements, attributed = np.asarray(unique_engagements, dtype=float), np.asarray(attributed, dtype=float)
    months = float(campaign["weeks"]) / WEEKS_PER_MONTH
    baseline = float(campaign["baseline_units_per_month"]) + cfg.new_product_demand  # a launch ranks too
    intensity = unique_engagements / months
    half = cfg.halo_engagements_per_baseline_unit * baseline
    marketplace = campaign.get("marketplace") or "other"
    with np.errstate(invalid="ignore", divide="ignore"):
        halo = np.where((intensity > 0) & (baseline > 0), baseline * cfg.halo_max[marketplace] * intensity
                        ** cfg.halo_shape / (intensity ** cfg.halo_shape + half ** cfg.halo_shape), 0.0)
    halo = halo * cfg.brand_lift  # and through the marketplace's halo alike
    direct = attributed * (1.0 + cfg.word_of_mouth) / months
    return {"direct": direct, "halo": halo, "incremental": direct + halo}


def _cells(frame: pd.DataFrame, cfg: SimulationConfig) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Platform/niche cells of `frame` (platform, niche, impressions, engagements, conversions): each row's cell code,
    and per cell its impression pool, engaged pool, buyer pool."""
    codes, cells = pd.factorize(pd.MultiIndex.from_arrays([frame["platform"], frame["niche"]]))
    platforms = [platform for platform, _ in cells]
    engaged = np.array([cfg.engaged_pool[p] for p in platforms], dtype=float)
    pools = {"impressions": np.array([cfg.audience_pool[p] for p in platforms], dtype=float),
             "engagements": engaged, "conversions": engaged * cfg.buyer_share}
    return codes, np.arange(len(cells)), pools


def _people(sums: dict[str, np.ndarray], pools: dict[str, np.ndarray]) -> dict[str, float]:
    """Per-person totals over cells: people reached, relevant engaged people, buyers through links or codes."""
    return {c: float(economics.unique_reach(sums[c], pools[c]).sum()) for c in sums}


def lift_from_posts(campaign: Mapping, posts: pd.DataFrame, cfg: SimulationConfig = DEFAULT) -> dict:
    """Expected lift of a campaign from its (expected) posts.

    `posts` has one row per post (or per creator and format, weighted) with platform, niche,
    expected_impressions, expected_engagements, expected_conversions, relevance (or campaign_niche) and an optional
    weight (expected number of such posts). Creators of one niche on one platform share their audience; totals are
    counted per person (`economics.unique_reach`), so every post adds, an overlapping one less than a disjoint one.
    Engagement drives the halo as far as the audience cares about the product (relevance). Units are per month
    during the campaign.
    """
    weight = _column(posts, "weight", 1.0).astype(float)
    frame = pd.DataFrame({
        "platform": posts["platform"].to_numpy(), "niche": posts["niche"].to_numpy(),
        "impressions": weight * posts["expected_impressions"].to_numpy(dtype=float),
        "engagements": weight * posts["expected_engagements"].to_numpy(dtype=float) * relevance(posts, cfg),
        "conversions": weight * posts["expected_conversions"].to_numpy(dtype=float),
    })
    codes, cells, pools = _cells(frame, cfg)
    sums = {c: np.bincount(codes, weights=frame[c].to_numpy(), minlength=len(cells)) for c in pools}
    people = _people(sums, pools)
    units = _units_per_month(campaign, people["engagements"], people["conversions"], cfg)
    return {
        "expected_impressions": float(frame["impressions"].sum()),
        "expected_unique_impressions": people["impressions"],
        "expected_engagements": float((weight * posts["expected_engagements"].to_numpy(dtype=float)).sum()),
        "expected_unique_engagements": people["engagements"],
        "expected_attributed_units": people["conversions"],
        "expected_direct_units_per_month": float(units["direct"]),
        "expected_halo_units_per_month": float(units["halo"]),
        "expected_incremental_units_per_month": float(units["incremental"]),
    }


def marginal_units(campaign: Mapping, creators: pd.DataFrame, roster: np.ndarray,
                   cfg: SimulationConfig = DEFAULT) -> np.ndarray:
    """Incremental units/month each creator adds to `roster` (a boolean mask), or loses when left out of it.

    `creators` has one row per creator with platform, niche, and its expected engagements (relevance-weighted) and
    conversions over the campaign (summed over its expected posts). The arithmetic of `lift_from_posts`, for every
    creator at once: a creator changes only its own platform/niche cell. Never negative.
    """
    roster = np.asarray(roster, dtype=bool)
    frame = creators.assign(impressions=0.0) if "impressions" not in creators.columns else creators
    codes, cells, pools = _cells(frame, cfg)
    pools = {c: pools[c] for c in ("engagements", "conversions")}
    values = {c: creators[c].to_numpy(dtype=float) for c in pools}
    sums = {c: np.bincount(codes, weights=values[c] * roster, minlength=len(cells)) for c in pools}
    people = _people(sums, pools)
    sign = np.where(roster, -1.0, 1.0)
    # each creator's cell with the creator toggled: the other cells' people stay as they are
    reach = economics.unique_reach
    toggled = {c: people[c] - reach(sums[c], pools[c])[codes]
               + reach(np.maximum(sums[c][codes] + sign * values[c], 0.0), pools[c][codes]) for c in pools}
    now = float(_units_per_month(campaign, people["engagements"], people["conversions"], cfg)["incremental"])
    other = _units_per_month(campaign, toggled["engagements"], toggled["conversions"], cfg)["incremental"]
    return np.maximum(np.where(roster, now - other, other - now), 0.0)


def roster_posts(campaign: Mapping, roster: pd.DataFrame, cfg: SimulationConfig = DEFAULT,
                 posts_per_creator: np.ndarray | None = None) -> pd.DataFrame:
    """Expected posts of an invited roster: one row per creator and format, weighted by expected count."""
    context = campaign_context(roster.reset_index(drop=True), campaign, cfg)
    per_creator = expected_posts(context, cfg) if posts_per_creator is None \
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
            "format": fmt, "weight": per_creator * share, "relevance": rows["relevance"].to_numpy(),
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
    used when present. By default posting is in expectation (`posting_probability` x posts if posting);
    pass `posts_per_creator` to condition on how many posts each creator actually made.
    """
    if len(roster) == 0:
        empty = pd.DataFrame(columns=["platform", "niche", "relevance", "expected_impressions",
                                      "expected_engagements", "expected_conversions"])
        return {**lift_from_posts(campaign, empty, cfg), "expected_cost": 0.0}
    expected = roster_posts(campaign, roster, cfg, posts_per_creator)
    outcome = lift_from_posts(campaign, expected, cfg)
    outcome["expected_cost"] = roster_cost(campaign, roster, expected, cfg)
    return outcome
