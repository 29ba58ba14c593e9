"""What each candidate creator is expected to bring to a campaign: posts, engagements, units and cost."""

from __future__ import annotations

import numpy as np
import pandas as pd

from microlift.models import economics
from microlift.models import features as F
from microlift.models.brief import Brief
from microlift.models.economics import POSTS_IF_POSTING, PRICE_PER_1K_FOLLOWERS, campaign_cost
from microlift.models.vocabulary import TIERS, tier_index


def candidate_rows(brief: Brief, creators: pd.DataFrame) -> F.Columns:
    """Creators joined with the brief's campaign fields, as the feature module reads them (`features.Columns`;
    `.frame()` for a DataFrame)."""
    return F.Columns.of(creators, **brief.context())


def asking_price(creators) -> np.ndarray:
    """Each creator's price per post (USD); the IMH rate card by platform where none is known."""
    followers = F.numbers(creators, "followers")
    codes, platforms = pd.factorize(creators["platform"])
    rate = np.array([PRICE_PER_1K_FOLLOWERS.get(p, 10.0) for p in platforms] + [10.0])  # code -1: missing
    card = rate[codes] * followers / 1000
    if "price_per_post" not in creators:
        return card
    price = F.numbers(creators, "price_per_post")
    return np.where(np.isfinite(price), price, card)


def offer_ratio(rows: pd.DataFrame, units_per_post: np.ndarray) -> np.ndarray:
    """Each invitation's offer per post (`economics.offer_per_post`) against the creator's asking price: the posting
    model's main input. `rows` carry compensation and product_price and, when known, gift_value, commission_rate and
    fee; `units_per_post` is the expected attributed units of one post (an affiliate's commission)."""
    price = np.maximum(asking_price(rows), 1.0)
    codes, ways = F.factorized(rows["compensation"], use_na_sentinel=False)  # few distinct values: each read once
    gift, commission, fee = (F.numbers(rows, c) for c in ("gift_value", "commission_rate", "fee"))
    product = F.numbers(rows, "product_price")
    units = np.broadcast_to(np.asarray(units_per_post, dtype=float), (len(rows),))
    if len(ways) == 1:  # one brief: one way of paying for every row
        return economics.offer_per_post(str(ways[0]).strip().lower(), gift, product, price, units, commission,
                                        fee) / price
    out = np.empty(len(rows))
    for k, way in enumerate(ways):
        m = codes == k
        out[m] = economics.offer_per_post(str(way).strip().lower(), gift[m], product[m], price[m], units[m],
                                          commission[m], fee[m])
    return out / price


def shared_matrices(models: dict, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Both models' feature matrices, each shared feature built once (the conversion kind builds every engagement
    feature, format included)."""
    names_e, names_c = models["engagement"].features_, models["conversion"].features_
    union = list(dict.fromkeys([*names_c, *names_e]))
    X = F.matrix("conversion", rows, union) if set(names_e) <= F.buildable("conversion") else None
    if X is None:
        return F.matrix("engagement", rows, names_e), F.matrix("conversion", rows, names_c)
    where = {name: j for j, name in enumerate(union)}
    # np.take keeps rows contiguous (X[:, list] is column-major), as the compiled models read them
    return (np.take(X, [where[n] for n in names_e], axis=1), np.take(X, [where[n] for n in names_c], axis=1))


def posting_matrix(models: dict, rows: pd.DataFrame, X_c: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """The posting model's feature matrix: its creator features taken from the conversion matrix `X_c` (built
    already), the offer ratio built here."""
    names, known = models["posting"].features_, {n: j for j, n in enumerate(models["conversion"].features_)}
    offer = F.POSTING_FEATURES["log_offer_ratio"](F.Columns.of({"offer_ratio": ratio}))
    if not all(n in known or n == "log_offer_ratio" for n in names):
        return F.matrix("posting", rows.assign(offer_ratio=ratio), names)
    # whole rows at a time (a column at a time strides across the rows: 5 times slower at a million)
    X = np.take(X_c, [known.get(name, 0) for name in names], axis=1)
    if "log_offer_ratio" in names:
        X[:, names.index("log_offer_ratio")] = offer
    return X


def conversion_bands(models: dict, rows, X: np.ndarray | None = None,
                     mean: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """p10/p50/p90 of attributed units per post (negative binomial quantiles: costly, so only where shown);
    `X`: the rows' conversion feature matrix, if already built; `mean`: their expected units per post, if
    already predicted (`score`'s conversions_per_post_mean)."""
    model = models["conversion"]
    bands = model.predict(rows, X) if mean is None else model.bands(mean)
    return {q: bands[q] for q in ("p10", "p50", "p90")}


_TIER_NAMES = np.asarray(TIERS, dtype=object)


def _text(values) -> pd.Series:
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return pd.Series(values, copy=False)  # pandas' strings as stored: no conversion of a large catalog
    return pd.Series(np.asarray(values, dtype=object), dtype=object, copy=False)  # not inferred as arrow strings


def score(brief: Brief, creators: pd.DataFrame, models: dict, bands: bool = False,
          ranges: bool = True) -> pd.DataFrame:
    """`score_with_matrices` without the matrices."""
    return score_with_matrices(brief, creators, models, bands, ranges)[0]


def score_with_matrices(brief: Brief, creators: pd.DataFrame, models: dict, bands: bool = False,
                        ranges: bool = True) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray]]:
    """One row per candidate with its expectations for this campaign.

    Columns: creator_id, platform, niche, tier, followers, price; posting (probability, the posting model), posts
    (expected); relevance (the conversion model's learned niche relevance) and relevant_engagements;
    log_engagement_rate (the engagement model's expected ln rate, from which `EngagementModel.rates` gives any range);
    engagements_per_post (mean, and p10, p50, p90 when `ranges`: a ranking takes them for the creators it shows) and
    conversions_per_post_mean (and its p10/p50/p90 when `bands`); engagements and conversions (expected over the
    campaign); cost (expected USD) and cost_if_posting.
    Also the engagement and conversion feature matrices of the candidates, for whatever explains them next.
    """
    rows = candidate_rows(brief, creators)
    X_e, X_c = shared_matrices(models, rows)
    log_rate = models["engagement"].predict_log(rows, X_e)
    rate = models["engagement"].rates(log_rate, ("mean", "p10", "p50", "p90") if ranges else ("mean",))
    units = {"mean": models["conversion"].predict_mean(rows, X_c)}
    if bands:
        units.update(conversion_bands(models, rows))
    followers = F.numbers(rows, "followers")
    price = asking_price(rows)
    # who posts: the posting model, from the offer (gift, fee or expected commission) against the asking price
    posting = models["posting"].predict(rows, posting_matrix(models, rows, X_c, offer_ratio(rows, units["mean"])))
    per_creator = POSTS_IF_POSTING[brief.compensation]
    posts = posting * per_creator
    ids = rows["creator_id"]
    if isinstance(ids, np.ndarray) and ids.dtype != object:
        ids = ids.astype(str)
    out = {  # text columns as given: Python strings stay objects, pandas' (arrow) strings stay as stored
        "creator_id": _text(ids),
        "platform": _text(rows["platform"]), "niche": _text(rows["niche"]),
        "tier": _text(_TIER_NAMES[tier_index(followers)]),
        "followers": followers, "price": price, "posting": posting,
        "posts_if_posting": np.full(len(rows), per_creator), "posts": posts,
        # how much the creator's audience cares about the product's niche, as the conversion model learned it
        "relevance": models["conversion"].relevance(rows["niche"], brief.niche),
        "log_engagement_rate": log_rate,
    }
    for q, values in rate.items():
        out[f"engagements_per_post_{q}"] = values * followers
    for q, values in units.items():
        out[f"conversions_per_post_{q}"] = values
    out["engagements"] = posts * out["engagements_per_post_mean"]
    out["relevant_engagements"] = out["engagements"] * out["relevance"]
    out["conversions"] = posts * out["conversions_per_post_mean"]
    # if the creator posts; and expected over posting (gifts go out whether or not they post, fees on delivery)
    invited, fees = np.ones(len(rows)), price * per_creator
    out["cost_if_posting"] = campaign_cost(brief.compensation, brief.gift, brief.commission_per_unit, invited, fees,
                                           per_creator * out["conversions_per_post_mean"])
    out["cost"] = campaign_cost(brief.compensation, brief.gift, brief.commission_per_unit, invited, posting * fees,
                                out["conversions"])
    # object labels: faster lookups; the columns as computed, not copied into one block (61 ms at 1M candidates)
    return pd.DataFrame(out, columns=pd.Index(list(out), dtype=object), copy=False), (X_e, X_c)


def eligible(brief: Brief, scored: pd.DataFrame) -> np.ndarray:
    """Candidates on the brief's platforms and tiers (all when the brief names none)."""
    keep = np.ones(len(scored), dtype=bool)
    if brief.platforms:
        keep &= scored["platform"].isin(brief.platforms).to_numpy()
    if brief.tiers:
        keep &= scored["tier"].isin(brief.tiers).to_numpy()
    return keep
