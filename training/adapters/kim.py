"""Adapter for the Kim et al. Instagram influencer data (WWW 2020) as mirrored in shared/data/external.

Needs `influencers.txt` (tab-separated, a header line and a line of '=') and `post_table.csv`; uses
`posts_meta_derived.csv` when present for post times, format and sponsorship. Research use only: the files are
read where they are, never copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from microlift.models.vocabulary import normalize_niche

# Without post metadata the post time is unknown; the crawl ended in May 2019 (SOURCE.md).
CRAWL_DATE = pd.Timestamp("2019-05-31")


def read_influencers(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep="\t", skiprows=[1], dtype=str, keep_default_na=False)
    raw.columns = [c.strip() for c in raw.columns]
    niche, _ = normalize_niche(raw["Category"].tolist())
    return pd.DataFrame({
        "creator_id": raw["Username"].str.strip(),
        "platform": "instagram",
        "niche": niche,
        "followers": pd.to_numeric(raw["#Followers"], errors="coerce"),
        "following": pd.to_numeric(raw["#Followees"], errors="coerce"),
        "posts_count": pd.to_numeric(raw["#Posts"], errors="coerce"),
    })


def adapt(src: str | Path) -> dict[str, pd.DataFrame]:
    """Contract tables `creators` and `posts` from the Kim files in `src`."""
    src = Path(src)
    missing = [n for n in ("influencers.txt", "post_table.csv") if not (src / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{src}: missing {', '.join(missing)} (the Kim Instagram files)")
    creators = read_influencers(src / "influencers.txt")
    creators = creators[creators["followers"].notna() & (creators["followers"] >= 1)]
    creators = creators.drop_duplicates("creator_id").reset_index(drop=True)
    table = pd.read_csv(src / "post_table.csv", dtype={"shortcode": str, "influencer_profile": str})
    posts = pd.DataFrame({
        "post_id": table["shortcode"], "creator_id": table["influencer_profile"].str.strip(),
        "likes": pd.to_numeric(table["nb_likes"], errors="coerce"),
        "comments": pd.to_numeric(table["nb_comments"], errors="coerce"),
    })
    meta_path = src / "posts_meta_derived.csv"
    if meta_path.is_file():
        meta = pd.read_csv(meta_path, dtype={"shortcode": str}).drop_duplicates("shortcode").set_index("shortcode")
        found = meta.reindex(posts["post_id"])
        posted = pd.to_datetime(found["taken_at_timestamp"].to_numpy(), unit="s", errors="coerce")
        posts["posted_at"] = pd.Series(posted).fillna(CRAWL_DATE).to_numpy()
        sponsored = (found["is_ad"].fillna(0) > 0) | (found["n_sponsor_users"].fillna(0) > 0) \
            | (found["caption_ad_hashtag"].fillna(0) > 0)
        posts["sponsored"] = sponsored.to_numpy()
        posts["format"] = np.where(found["is_video"].fillna(0).to_numpy() > 0, "reel", "feed")
    else:
        posts["posted_at"] = CRAWL_DATE
        posts["sponsored"] = False
        posts["format"] = "feed"
    posts["engagements"] = posts["likes"].fillna(0) + posts["comments"].fillna(0)
    posts = posts[posts["creator_id"].isin(creators["creator_id"]) & posts["likes"].notna()]
    posts = posts.drop_duplicates("post_id").reset_index(drop=True)
    posts["campaign_id"] = None
    # keep creators that have posts, so the engagement model sees history where there is one
    return {"creators": creators, "posts": posts[["post_id", "creator_id", "posted_at", "engagements", "likes",
                                                    "comments", "sponsored", "format", "campaign_id"]]}
