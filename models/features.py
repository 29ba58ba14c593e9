"""Feature building for the models: the one place where raw creator, post and campaign fields become numbers.

Training and serving both call `matrix(kind, rows)`. A trained artifact stores the feature names, the categorical
vocabularies and this module's FEATURE_VERSION; serving refuses an artifact whose features it cannot rebuild.
Missing optional inputs become NaN, which LightGBM treats as missing; unknown categories get a reserved code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd

from microlift.models.economics import DAYS_PER_MONTH, ENGAGED_POOL, added_reach_one, sales_scale, unique_reach
from microlift.models.vocabulary import (
    COMPENSATIONS,
    COUNTRIES,
    FORMATS,
    MARKETPLACES,
    NICHES,
    PLATFORMS,
    TIERS,
    tier_index,
)

# 2: the product's niche (campaign_niche) beside the creator's, the posting model, lift relative to
# `economics.sales_scale` (defined for new products) and engaged people weighted by relevance.
FEATURE_VERSION = 2
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "platform": PLATFORMS, "niche": NICHES, "format": FORMATS, "compensation": COMPENSATIONS,
    "marketplace": MARKETPLACES, "tier": TIERS, "country": COUNTRIES, "campaign_niche": NICHES,
}
DEFAULT_FORMAT = {"instagram": "feed", "tiktok": "video", "youtube": "video"}


def log_engagement_rate(engagements, followers) -> np.ndarray:
    """ln((engagements + 0.5) / followers): the engagement model's target, defined for zero engagements."""
    return np.log((np.asarray(engagements, dtype=float) + 0.5) / np.asarray(followers, dtype=float))


class Columns:
    """Equal-length named columns (numpy arrays or Series) read as the feature builders read a DataFrame: `rows[name]`,
    `name in rows`, `len(rows)` (the rows). Building one costs no copy and no type inference, so a request of a few
    candidates spends its time on the models rather than on DataFrame machinery; `frame()` is the DataFrame."""

    __slots__ = ("_columns", "_length")

    def __init__(self, columns: dict, length: int):
        self._columns, self._length = columns, int(length)

    @classmethod
    def of(cls, source: pd.DataFrame | dict, **scalars) -> Columns:
        """A frame's (or a dict of equal-length arrays') columns as numpy arrays, without copies where they are
        stored as such, plus `scalars` broadcast to every row (replacing same-named columns)."""
        if isinstance(source, Columns):
            n = len(source)
            columns = {name: source[name] for name in source.columns if name not in scalars}
        elif isinstance(source, pd.DataFrame):
            n = len(source)
            columns = {name: _stored(source[name]) for name in source.columns if name not in scalars}
        else:
            n = len(next(iter(source.values()))) if source else 0
            columns = {name: values for name, values in source.items() if name not in scalars}
        for name, value in scalars.items():  # one value seen n times (a read-only view: no n-long copy)
            one = np.array(value, dtype=object if isinstance(value, str) or value is None else float)
            columns[name] = np.broadcast_to(one, (n,))
        return cls(columns, n)

    def __getitem__(self, name: str):
        return self._columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    def __len__(self) -> int:
        return self._length

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def assign(self, **columns) -> Columns:
        return Columns({**self._columns, **columns}, self._length)

    def take(self, positions: np.ndarray) -> Columns:
        """The rows at `positions`."""
        n = len(positions)
        return Columns({k: np.broadcast_to(v[:1], (n,)) if _repeated(v) and len(v) else np.asarray(v)[positions]
                        for k, v in self._columns.items()}, n)


    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({k: pd.Series(v, dtype=object) if np.asarray(v).dtype == object else np.asarray(v)
                             for k, v in self._columns.items()})


def _repeated(values) -> bool:
    """One value seen on every row (a read-only broadcast: `Columns.of`'s scalars)."""
    return isinstance(values, np.ndarray) and values.ndim == 1 and values.strides == (0,)


def _stored(column: pd.Series):
    """A frame's column as `Columns` holds it: numpy arrays without a copy where they are stored as such; pandas'
    (arrow) strings and categories as stored, which `codes` factorises without converting them to Python strings;
    other pandas types as floats (numbers) or objects."""
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy()
    if isinstance(column.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(column.dtype):
        return column.array
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=float, na_value=np.nan)
    return column.to_numpy(dtype=object)


def factorized(values, use_na_sentinel: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize` of a text column: pandas' strings and categories as stored (no conversion of a large
    catalog), anything else as Python objects; one value seen on every row (a brief's field) is read once."""
    if _repeated(values) and len(values):
        codes, distinct = pd.factorize(values[:1], use_na_sentinel=use_na_sentinel)
        return np.broadcast_to(codes, values.shape), distinct
    if not isinstance(values, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        values = np.asarray(values, dtype=object).reshape(-1)
    return pd.factorize(values, use_na_sentinel=use_na_sentinel)


def rows_at(rows: pd.DataFrame | Columns, positions: np.ndarray) -> pd.DataFrame | Columns:
    """The rows at `positions` of a frame or of columns."""
    return rows.take(positions) if isinstance(rows, Columns) else rows.iloc[positions]


def text(rows, name: str):
    """A text column as stored, or missing values for every row when there is none."""
    return rows[name] if name in rows else np.full(len(rows), None, dtype=object)


def numbers(rows, name: str) -> np.ndarray:
    """A column as floats (NaN where missing or not a number; all NaN when there is no such column)."""
    return _num(rows, name)


def codes(values, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Integer code of each value in the vocabulary (case and spaces ignored); unknown or missing values get
    len(vocabulary). Distinct values are few, so they are looked up once each."""
    lookup = _lowered(vocabulary)
    if _repeated(values) and len(values) > 1:
        # one value seen n times (a brief's field, `Columns.of`): looked up once
        return np.broadcast_to(codes(values[:1], vocabulary), values.shape)
    if len(values) <= 256:  # a few values (a request's candidates): looked up one by one, without pandas' hashing
        missing, seen = len(vocabulary), {}
        return np.array([seen[v] if v in seen else seen.setdefault(v, lookup.get(str(v).strip().lower(), missing))
                         for v in (values.tolist() if hasattr(values, "tolist") else list(values))], dtype=np.float32)
    found, distinct = factorized(values)
    # code -1 (missing) takes the last entry: the reserved code
    known = np.array([lookup.get(str(v).strip().lower(), len(vocabulary)) for v in distinct] + [len(vocabulary)],
                     dtype=np.float32)
    return known[found]


@functools.cache
def _lowered(vocabulary: tuple[str, ...]) -> dict[str, int]:
    return {v.lower(): i for i, v in enumerate(vocabulary)}


def _num(rows, name: str) -> np.ndarray:
    if name not in rows:
        return np.full(len(rows), np.nan)
    column = rows[name]
    if column.dtype.kind in "fiub":  # already numbers: no parsing
        return _as_floats(column)
    return _as_floats(pd.to_numeric(column, errors="coerce"))


def _as_floats(column) -> np.ndarray:
    if isinstance(column, pd.Series | pd.Index):
        return column.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(column, dtype=float)


def _log10(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def _flag(rows, name: str) -> np.ndarray:
    if name not in rows:
        return np.full(len(rows), np.nan)
    column = rows[name]
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
        values = np.asarray(column, dtype=float)
        return np.where(np.isnan(values), np.nan, (values != 0).astype(float))
    values = np.asarray(column, dtype=object)
    missing = pd.isna(values)
    return np.where(missing, np.nan, np.where(missing, False, values).astype(bool).astype(float))


def _niche_match(rows) -> np.ndarray:
    if "campaign_niche" not in rows:
        return np.zeros(len(rows))
    campaign = rows["campaign_niche"]
    if _repeated(campaign) and len(campaign):  # one brief's niche: compared and checked as one value
        campaign = campaign[0]
    same = rows["niche"] == campaign  # compared as stored (arrow, categories: fast)
    same = np.asarray(same, dtype=bool) if isinstance(same, np.ndarray) else same.to_numpy(dtype=bool, na_value=False)
    return np.where(np.asarray(pd.isna(campaign)), 0.0, same.astype(float))


def _format(rows) -> np.ndarray:
    """The post format, or the platform's usual one where none is given."""
    found, platforms = pd.factorize(rows["platform"])  # as stored (arrow strings: no copy to objects)
    default = np.array([DEFAULT_FORMAT.get(p) for p in platforms] + [None], dtype=object)[found]
    if "format" not in rows:
        return default
    given = np.asarray(rows["format"], dtype=object)
    return np.where(pd.isna(given), default, given)


# Creator features: the same for every model.
CREATOR_FEATURES: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "platform": lambda r: codes(r["platform"], PLATFORMS),
    "niche": lambda r: codes(r["niche"], NICHES),
    "tier": lambda r: tier_index(_num(r, "followers")).astype(float),
    "country": lambda r: codes(text(r, "country"), COUNTRIES),
    "log_followers": lambda r: _log10(_num(r, "followers")),
    "log_following_ratio": lambda r: _log10((_num(r, "following") + 1) / _num(r, "followers")),
    "log_posts_count": lambda r: _log10(_num(r, "posts_count") + 1),
    "audience_quality": lambda r: _num(r, "audience_quality"),
    "sponsored_share": lambda r: _num(r, "sponsored_share"),
    "log_price_per_1k": lambda r: _log10(_num(r, "price_per_post") / _num(r, "followers") * 1000),
    "posts_per_week": lambda r: _num(r, "posts_per_week"),
    "log_views_per_follower": lambda r: _log10(_num(r, "avg_views") / _num(r, "followers")),
    "hist_posts": lambda r: np.log1p(np.nan_to_num(_num(r, "hist_posts"))),
    "hist_log_er_mean": lambda r: _num(r, "hist_log_er_mean"),
    "hist_log_er_sd": lambda r: _num(r, "hist_log_er_sd"),
}
POST_FEATURES: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "format": lambda r: codes(_format(r), FORMATS),
    "sponsored": lambda r: _flag(r, "sponsored"),
    "compensation": lambda r: codes(text(r, "compensation"),
                                    COMPENSATIONS),
    "niche_match": _niche_match,
    # the product's niche beside the creator's: the trees learn which audiences care about which products
    "campaign_niche": lambda r: codes(text(r, "campaign_niche"),
                                      NICHES),
}
# A creator's track record in earlier campaigns: attributed units per 1k followers per post.
TRACK_FEATURES: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "track_posts": lambda r: np.log1p(np.nan_to_num(_num(r, "track_posts"))),
    "track_log_units_per_1k": lambda r: np.log((_num(r, "track_units") + 0.5) / (_num(r, "track_followers_k") + 1)),
}
CAMPAIGN_FEATURES: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "log_product_price": lambda r: _log10(_num(r, "product_price")),
    "discount_code": lambda r: _flag(r, "discount_code"),
    "marketplace": lambda r: codes(text(r, "marketplace"),
                                   MARKETPLACES),
}
# Lift features: a roster's aggregates (see `roster_aggregates`) and the campaign. Every roster aggregate only
# grows when a creator is added, and the model is constrained to be monotone in each (LIFT_MONOTONE). Spend is
# deliberately not a feature: paying more for the same posts sells nothing more.
LIFT_FEATURES: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "log_engagements_per_baseline_month": lambda r: np.log1p(_num(r, "pred_engagements") / _months(r)
                                                             / _baseline(r)),
    "log_unique_engagements_per_baseline_month": lambda r: np.log1p(_num(r, "pred_unique_engagements")
                                                                    / _months(r) / _baseline(r)),
    "log_conversions_per_baseline_month": lambda r: np.log1p(_num(r, "pred_conversions") / _months(r)
                                                             / _baseline(r)),
    "log_engagements": lambda r: np.log1p(_num(r, "pred_engagements")),
    "log_creators": lambda r: np.log1p(_num(r, "creators")),
    "log_posts": lambda r: np.log1p(_num(r, "posts")),
    "log_baseline": lambda r: _log10(_baseline(r)),
    "log_product_price": CAMPAIGN_FEATURES["log_product_price"],
    "weeks": lambda r: _num(r, "weeks"),
    "marketplace": CAMPAIGN_FEATURES["marketplace"],
    "compensation": POST_FEATURES["compensation"],
    "discount_code": CAMPAIGN_FEATURES["discount_code"],
}
# Posting: whether an invited creator posts, from the offer against the creator's price per post
# (`economics.offer_per_post` / the asking price, given as `offer_ratio`), the way of paying and who the creator is.
POSTING_FEATURES: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    **CREATOR_FEATURES,
    "compensation": POST_FEATURES["compensation"],
    "log_offer_ratio": lambda r: _log10(_num(r, "offer_ratio")),
}
LIFT_MONOTONE = ("log_engagements_per_baseline_month", "log_unique_engagements_per_baseline_month",
                 "log_conversions_per_baseline_month", "log_engagements", "log_creators", "log_posts")

FEATURES: dict[str, dict[str, Callable[[pd.DataFrame], np.ndarray]]] = {
    "engagement": {**CREATOR_FEATURES, **POST_FEATURES},
    # No format: a brief does not say which formats creators will post in, so the conversion model learns a
    # post's units over each creator's usual mix of formats (scored at one default format, Instagram creators'
    # units came out about 20% low against TikTok creators', measured on simulated data).
    "conversion": {**CREATOR_FEATURES, **TRACK_FEATURES, **{k: v for k, v in POST_FEATURES.items() if k != "format"},
                   **CAMPAIGN_FEATURES},
    "lift": LIFT_FEATURES,
    "posting": POSTING_FEATURES,
}
# Features models of an earlier version may still ask for (a conversion model trained with format).
_RETIRED: dict[str, dict[str, Callable[[pd.DataFrame], np.ndarray]]] = {
    "conversion": {"format": POST_FEATURES["format"]}}
CATEGORICAL = ("platform", "niche", "format", "compensation", "marketplace", "country", "campaign_niche")


# The raw columns each model reads (its MLflow signature); every optional one may be missing or null.
_CREATOR_INPUTS = ["platform", "niche", "followers", "following", "posts_count", "country", "avg_views",
                   "audience_quality", "sponsored_share", "price_per_post", "posts_per_week", "hist_posts",
                   "hist_log_er_mean", "hist_log_er_sd"]
_POST_INPUTS = ["format", "sponsored", "compensation", "campaign_niche"]
RAW_INPUTS: dict[str, list[str]] = {
    "engagement": _CREATOR_INPUTS + _POST_INPUTS,
    "conversion": _CREATOR_INPUTS + ["track_posts", "track_units", "track_followers_k"]
    + [c for c in _POST_INPUTS if c != "format"] + ["product_price", "discount_code", "marketplace"],
    "lift": ["pred_engagements", "pred_unique_engagements", "pred_conversions", "creators", "posts",
             "baseline_units_per_month", "product_price", "weeks", "marketplace", "compensation", "discount_code"],
    "posting": _CREATOR_INPUTS + ["compensation", "offer_ratio"],
}


# What a creator's past posts tell the models, kept beside the creator in a catalog (see `with_history` and
# `with_track_record`): name -> meaning. Their accepted ranges are in `models.bounds.BOUNDS`.
CREATOR_HISTORY: dict[str, str] = {
    "hist_posts": "organic posts behind the history (count)",
    "hist_log_er_mean": "mean ln engagement rate of those posts",
    "hist_log_er_sd": "spread (sd) of ln engagement rate of those posts",
    "track_posts": "campaign posts with observed attributed units (count)",
    "track_units": "attributed units of those posts (sum)",
    "track_followers_k": "followers / 1000 summed over those posts",
}


def _months(rows: pd.DataFrame) -> np.ndarray:
    return np.maximum(_num(rows, "weeks"), 0.5) * 7 / DAYS_PER_MONTH


def _baseline(rows: pd.DataFrame) -> np.ndarray:
    """What lift is relative to: baseline units/month + the sales floor (a new product has 0)."""
    return sales_scale(np.maximum(_num(rows, "baseline_units_per_month"), 0.0))


def feature_names(kind: str) -> list[str]:
    return list(FEATURES[kind])


def buildable(kind: str) -> set[str]:
    """Every feature `matrix(kind, ...)` can build: the kind's own and those it retired."""
    return set(FEATURES[kind]) | set(_RETIRED.get(kind, {}))


def categorical_names(kind: str) -> list[str]:
    return [name for name in FEATURES[kind] if name in CATEGORICAL]


def matrix(kind: str, rows: pd.DataFrame, names: list[str] | None = None) -> np.ndarray:
    """Float32 feature matrix of `rows` for model `kind`, columns in the order of `names` (default: all)."""
    names = names or list(FEATURES[kind])
    builders = {**_RETIRED.get(kind, {}), **FEATURES[kind]}
    unknown = [n for n in names if n not in builders]
    if unknown:
        raise ValueError(f"{kind} model asks for features this version cannot build: {', '.join(unknown)}")
    out = np.empty((len(rows), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        out[:, j] = builders[name](rows)
    return out


def creator_history(posts: pd.DataFrame, creators: pd.DataFrame) -> pd.DataFrame:
    """Per creator, over organic posts: count, sum and sum of squares of ln engagement rate (index creator_id)."""
    organic = posts[posts["campaign_id"].isna()] if "campaign_id" in posts.columns else posts
    followers = organic["creator_id"].map(creators.set_index("creator_id")["followers"])
    log_er = log_engagement_rate(organic["engagements"], followers)
    stats = pd.DataFrame({"creator_id": organic["creator_id"].to_numpy(), "x": log_er, "x2": log_er**2})
    grouped = stats.groupby("creator_id", sort=False).agg(n=("x", "size"), s=("x", "sum"), s2=("x2", "sum"))
    return grouped


def history_columns(n: np.ndarray, s: np.ndarray, s2: np.ndarray) -> dict[str, np.ndarray]:
    """hist_posts, hist_log_er_mean and hist_log_er_sd from count, sum and sum of squares."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, s / n, np.nan)
        var = np.where(n > 1, (s2 - n * mean**2) / (n - 1), np.nan)
    return {"hist_posts": n, "hist_log_er_mean": mean, "hist_log_er_sd": np.sqrt(np.maximum(var, 0.0))}


def with_history(creators: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Creators with their history columns (zero posts where they have none)."""
    aligned = history.reindex(creators["creator_id"]).fillna(0.0)
    cols = history_columns(aligned["n"].to_numpy(), aligned["s"].to_numpy(), aligned["s2"].to_numpy())
    return creators.assign(**cols)


def campaign_track_record(posts: pd.DataFrame, creators: pd.DataFrame) -> pd.DataFrame:
    """Per creator and campaign, over campaign posts with observed conversions: posts, units and followers/1000
    summed (index creator_id, campaign_id)."""
    if "conversions" not in posts.columns:
        posts = posts.assign(conversions=np.nan)
    made = posts[posts["campaign_id"].notna() & posts["conversions"].notna()]
    followers = made["creator_id"].map(creators.set_index("creator_id")["followers"]) / 1000
    frame = pd.DataFrame({"creator_id": made["creator_id"].to_numpy(), "campaign_id": made["campaign_id"].to_numpy(),
                          "units": made["conversions"].astype(float), "followers_k": followers.to_numpy(dtype=float)})
    return frame.groupby(["creator_id", "campaign_id"], sort=False).agg(
        track_posts=("units", "size"), track_units=("units", "sum"), track_followers_k=("followers_k", "sum"))


def creator_track_record(posts: pd.DataFrame, creators: pd.DataFrame) -> pd.DataFrame:
    """Per creator, over campaign posts with observed conversions: posts, units and followers/1000 summed."""
    return per_creator(campaign_track_record(posts, creators))


def per_creator(track: pd.DataFrame) -> pd.DataFrame:
    """A campaign track record (`campaign_track_record`) summed over each creator's campaigns."""
    return track.groupby(level="creator_id", sort=False).sum()


def with_track_record(creators: pd.DataFrame, track: pd.DataFrame) -> pd.DataFrame:
    """Creators with their track-record columns (NaN units where they have no campaign history)."""
    aligned = track.reindex(creators["creator_id"])
    return creators.assign(track_posts=aligned["track_posts"].fillna(0).to_numpy(),
                           track_units=aligned["track_units"].to_numpy(),
                           track_followers_k=aligned["track_followers_k"].to_numpy())


def merged_history(stored: pd.DataFrame, posts: pd.DataFrame, remove: bool = False) -> pd.DataFrame:
    """A catalog's stored history and track record with `posts` added (or, with `remove`, taken out again).

    `stored` has one row per creator: creator_id, followers (those the posts are counted with) and the
    CREATOR_HISTORY columns (NaN where unknown). The posts count as `creator_history` and `campaign_track_record`
    count them: organic posts (no campaign_id) into hist_*, campaign posts with observed conversions into track_*,
    so adding posts one import at a time gives what computing over all of them at once gives. A history left
    without posts is cleared (0 posts, NaN mean, spread, units and followers). Returns `stored` with the new
    values; creators the posts do not count for keep theirs."""
    sign = -1.0 if remove else 1.0
    out = stored.copy()
    ids = out["creator_id"]
    creators = out[["creator_id", "followers"]]
    added = creator_history(posts, creators).reindex(ids)
    counted = added["n"].fillna(0).to_numpy() > 0
    if counted.any():
        n0 = np.nan_to_num(_num(out, "hist_posts"))
        mean0, sd0 = _num(out, "hist_log_er_mean"), _num(out, "hist_log_er_sd")
        # back to count, sum and sum of squares, the sufficient statistics `history_columns` reads
        s0 = np.where(n0 > 0, n0 * mean0, 0.0)
        s2_0 = np.where(n0 > 1, (n0 - 1) * sd0**2 + n0 * mean0**2, np.where(n0 > 0, mean0**2, 0.0))
        n = np.maximum(n0 + sign * added["n"].fillna(0).to_numpy(), 0.0)
        s = np.where(n > 0, s0 + sign * added["s"].fillna(0).to_numpy(), 0.0)
        s2 = np.where(n > 0, s2_0 + sign * added["s2"].fillna(0).to_numpy(), 0.0)
        for name, values in history_columns(n, s, s2).items():
            out[name] = np.where(counted, values, _num(out, name))
    track = per_creator(campaign_track_record(posts, creators)).reindex(ids)
    counted = track["track_posts"].fillna(0).to_numpy() > 0
    if counted.any():
        total = np.nan_to_num(_num(out, "track_posts")) + sign * track["track_posts"].fillna(0).to_numpy()
        left = total > 0.5  # counts are whole: a history taken out entirely is cleared, not left at 1e-16
        for name in ("track_units", "track_followers_k"):
            values = np.nan_to_num(_num(out, name)) + sign * track[name].fillna(0).to_numpy()
            out[name] = np.where(counted, np.where(left, np.maximum(values, 0.0), np.nan), _num(out, name))
        out["track_posts"] = np.where(counted, np.where(left, total, 0.0), _num(out, "track_posts"))
    return out


def engaged_pools(platform) -> np.ndarray:
    """The engaged-audience pool of each platform value (economics.ENGAGED_POOL; the smallest if unknown)."""
    platform = np.asarray(platform, dtype=object)
    names, where = np.unique(platform.astype(str), return_inverse=True)
    fallback = min(ENGAGED_POOL.values())
    return np.array([ENGAGED_POOL.get(n, fallback) for n in names], dtype=float)[where.reshape(platform.shape)]


def unique_engagements(engagements: np.ndarray, platform: np.ndarray) -> np.ndarray:
    """Engaged people reached by a cell's summed engagements, after audience overlap (see economics)."""
    return unique_reach(engagements, engaged_pools(platform))


def unique_engagement(engagements: float, platform: str) -> float:
    """`unique_engagements` for one cell (a scalar, without array overhead)."""
    return added_reach_one(0.0, engagements, ENGAGED_POOL.get(platform, min(ENGAGED_POOL.values())))


def roster_aggregates(posts: pd.DataFrame, group: str = "campaign_id") -> pd.DataFrame:
    """Per campaign (or roster), the lift model's inputs from its (expected) posts.

    `posts` has one row per post (or per creator with `weight` = expected posts and `posting` = probability
    of posting) and the columns creator_id, platform, niche, pred_engagements and pred_conversions (per post), and
    `relevance` (how much the audience cares about the product, 1 when absent). Creators of one niche on one
    platform share an engaged audience, so their engaged people saturate; each counts as far as it is relevant.
    """
    weight = posts["weight"].to_numpy(dtype=float) if "weight" in posts.columns else np.ones(len(posts))
    frame = pd.DataFrame({
        group: posts[group].to_numpy(), "creator_id": posts["creator_id"].to_numpy(),
        "platform": posts["platform"].to_numpy(), "niche": posts["niche"].to_numpy(), "weight": weight,
        "eng": weight * posts["pred_engagements"].to_numpy(dtype=float),
        "relevant": weight * posts["pred_engagements"].to_numpy(dtype=float)
        * (posts["relevance"].to_numpy(dtype=float) if "relevance" in posts.columns else 1.0),
        "conv": weight * posts["pred_conversions"].to_numpy(dtype=float),
        "posting": posts["posting"].to_numpy(dtype=float) if "posting" in posts.columns else 1.0,
    })
    by = frame.groupby(group, sort=False)
    cells = frame.groupby([group, "platform", "niche"], sort=False)["relevant"].sum().reset_index()
    cells["unique"] = unique_engagements(cells["relevant"].to_numpy(), cells["platform"].to_numpy())
    creators = frame.drop_duplicates([group, "creator_id"]).groupby(group, sort=False)["posting"].sum()
    return pd.DataFrame({
        "pred_engagements": by["eng"].sum(),
        "pred_unique_engagements": cells.groupby(group, sort=False)["unique"].sum(),
        "pred_conversions": by["conv"].sum(),
        "posts": by["weight"].sum(),
        "creators": creators,
    })
