"""From contract tables to the rows each model trains on, and the grouped held-out splits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from microlift.models import features as F
from microlift.models.datasets import Dataset

CAMPAIGN_FIELDS = ["campaign_id", "niche", "product_price", "compensation", "marketplace", "discount_code",
                   "weeks", "budget", "baseline_units_per_month", "units_per_month_during"]


def held_out(ids: pd.Series, share: float = 0.2, salt: str = "test") -> np.ndarray:
    """Stable grouped split: an id is held out when its hash falls below `share`, whatever the dataset."""
    unique = pd.unique(ids.astype(str))
    digests = np.array([int(hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=8).hexdigest(), 16)
                        for i in unique], dtype=np.float64) / 2.0**64
    chosen = set(unique[digests < share])
    return ids.astype(str).isin(chosen).to_numpy()


@dataclass
class Prepared:
    """Rows per model. Post rows carry creator features, leave-one-out history and campaign context."""

    posts: pd.DataFrame          # every post with its features' raw inputs and `log_er`
    conversions: pd.DataFrame    # campaign posts with an observed `conversions`
    campaigns: pd.DataFrame | None
    truth: dict[str, pd.DataFrame]
    invitations: pd.DataFrame | None = None  # invited creators with their features, campaign context and `posted`


def prepare(dataset: Dataset) -> Prepared:
    creators = dataset.creators
    posts = dataset.posts
    if posts is None or posts.empty:
        raise ValueError("training needs a posts table with at least one post")
    campaigns = dataset.campaigns
    history, track = F.creator_history(posts, creators), F.campaign_track_record(posts, creators)
    rows = post_rows(posts, creators, history, track, campaigns)
    conversions = rows[rows["campaign_id"].notna() & rows["conversions"].notna()] if campaigns is not None \
        else rows.iloc[:0]
    invited = dataset.invitations
    invitations = invitation_rows(invited, creators, history, track, campaigns) \
        if invited is not None and campaigns is not None else None
    return Prepared(rows, conversions.reset_index(drop=True), campaigns, dataset.truth, invitations)


INVITATION_FIELDS = ["campaign_id", "niche", "product_price", "compensation", "marketplace", "discount_code",
                     "gift_value", "commission_rate"]


def invitation_rows(invitations: pd.DataFrame, creators: pd.DataFrame, history: pd.DataFrame, track: pd.DataFrame,
                    campaigns: pd.DataFrame) -> pd.DataFrame:
    """Invitations joined with their creator, the creator's organic history, the creator's track record in other
    campaigns (never the invitation's own: its units exist only if the creator posted) and the campaign's context."""
    rows = invitations.merge(F.with_history(creators, history), on="creator_id", how="left")
    columns = ["track_posts", "track_units", "track_followers_k"]
    total = F.per_creator(track).reindex(rows["creator_id"])[columns].fillna(0.0).to_numpy()
    own = track.reindex(pd.MultiIndex.from_arrays([rows["creator_id"], rows["campaign_id"]]))[columns]
    rest = total - own.fillna(0.0).to_numpy()
    rows["track_posts"] = rest[:, 0]
    rows["track_units"] = np.where(rest[:, 0] > 0, rest[:, 1], np.nan)
    rows["track_followers_k"] = np.where(rest[:, 0] > 0, rest[:, 2], np.nan)
    context = campaigns[[c for c in INVITATION_FIELDS if c in campaigns.columns]].rename(
        columns={"niche": "campaign_niche"})
    rows = rows.merge(context, on="campaign_id", how="left")
    rows["sponsored"] = True
    return rows.reset_index(drop=True)


def post_rows(posts: pd.DataFrame, creators: pd.DataFrame, history: pd.DataFrame, track: pd.DataFrame,
              campaigns: pd.DataFrame | None) -> pd.DataFrame:
    """Posts joined with their creator, the creator's history without the post itself, the creator's track record
    without the post's campaign, and the campaign's context. `history` and `track` are sums over all posts, per
    creator (`features.creator_history`) and per creator and campaign (`features.campaign_track_record`), so the
    rows of any slice of posts are those of the whole."""
    rows = posts.merge(creators, on="creator_id", how="left", suffixes=("", "_creator"))
    rows["log_er"] = F.log_engagement_rate(rows["engagements"], rows["followers"])
    # History excludes the post itself (leave-one-out), so a post never predicts itself.
    aligned = history.reindex(rows["creator_id"])
    organic = rows["campaign_id"].isna().to_numpy()
    x = np.where(organic, rows["log_er"].to_numpy(), 0.0)
    n = aligned["n"].fillna(0).to_numpy() - organic
    s = aligned["s"].fillna(0).to_numpy() - x
    s2 = aligned["s2"].fillna(0).to_numpy() - x**2
    for name, values in F.history_columns(n, s, s2).items():
        rows[name] = values
    # Track record in other campaigns: the post's whole campaign is left out, not only the post. A creator's
    # other posts in the same campaign share its product, price and way of paying, which a planner's track
    # record (earlier campaigns) never does; left in, they would stand in for the campaign's own features.
    columns = ["track_posts", "track_units", "track_followers_k"]
    total = F.per_creator(track).reindex(rows["creator_id"])[columns].fillna(0.0).to_numpy()
    own = track.reindex(pd.MultiIndex.from_arrays([rows["creator_id"], rows["campaign_id"]]))[columns]
    rest = total - own.fillna(0.0).to_numpy()
    rows["track_posts"] = rest[:, 0]
    units, followers_k = rest[:, 1], rest[:, 2]
    rows["track_units"] = np.where(rows["track_posts"] > 0, units, np.nan)
    rows["track_followers_k"] = np.where(rows["track_posts"] > 0, followers_k, np.nan)
    if campaigns is not None:
        context = campaigns[CAMPAIGN_FIELDS[:6]].rename(columns={"niche": "campaign_niche"})
        rows = rows.merge(context, on="campaign_id", how="left")
    return rows


def lift_rows(prepared: Prepared, campaign_posts: pd.DataFrame) -> pd.DataFrame:
    """One row per campaign with observed sales: roster aggregates (from predicted per-post engagements and
    conversions in `campaign_posts`) joined with the campaign fields. A new product (baseline 0) is a campaign too."""
    aggregates = F.roster_aggregates(campaign_posts)
    campaigns = prepared.campaigns[CAMPAIGN_FIELDS].set_index("campaign_id")
    rows = campaigns.join(aggregates, how="inner").reset_index()
    keep = (rows["baseline_units_per_month"] >= 0) & (rows["units_per_month_during"] >= 0)
    return rows[keep].reset_index(drop=True)


def group_median(train: pd.DataFrame, test: pd.DataFrame, keys: list[str], target: str,
                 how: str = "median") -> np.ndarray:
    """A planner's estimate by hand: the `how` of `target` in the test row's group, else over all rows."""
    table = train.groupby(keys)[target].agg(how)
    fallback = float(train[target].agg(how))
    index = pd.MultiIndex.from_frame(test[keys])
    return table.reindex(index).fillna(fallback).to_numpy(dtype=float)


def add_tier(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(tier=F.tier_index(frame["followers"].to_numpy()) if "followers" in frame else 0)
