"""What a creator's values may be: the range of every number and the rule of every text, in one place.

The data contract (`models.contract`: creators files on the command line and over HTTP) and the API's JSON schemas
(`serving/schemas.py`) both read these, so nothing outside them reaches the catalog or the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The range of every creator number, (lowest, highest), both accepted. Each is wider than anything real, and narrow
# enough that whatever is computed from it later (logs, exp, products, a BIGINT column) stays finite.
BOUNDS: dict[str, tuple[float, float]] = {
    "followers": (1, 1e10),  # the largest accounts have about 7e8; 1e10 is more than there are people
    "following": (0, 1e7),  # Instagram caps it at 7,500, TikTok at 10,000; real data has old accounts at 3e5
    "posts_count": (0, 1e7),  # prolific (news, automated) accounts publish a few hundred thousand posts in all
    "avg_views": (0, 1e11),  # the most viewed videos ever have about 1.6e10 views
    "audience_quality": (0, 1),
    "sponsored_share": (0, 1),
    "price_per_post": (0, 1e7),  # celebrities ask up to about $3e6 for one post
    "posts_per_week": (0, 1e4),  # a post a minute, day and night, is 10,080 a week
    "hist_posts": (0, 1e7),  # posts behind the history: at most every post an account publishes
    # mean of ln((engagements + 0.5) / followers): posts without engagement on the largest account give
    # ln(0.5 / 1e10) = -23.7; a small account's viral posts engage many times its followers, but not e^10 = 22,026
    # times on average
    "hist_log_er_mean": (-24, 10),
    "hist_log_er_sd": (0, 17),  # values within the mean's range spread by at most half its width
    "track_posts": (0, 1e7),
    "track_units": (0, 1e9),  # units attributed to one creator's campaign posts; best-sellers sell ~1e9 a year
    "track_followers_k": (0, 1e14),  # followers / 1000 over those posts: at most 1e7 posts x 1e7
}


@dataclass(frozen=True)
class TextRule:
    """What a text value may be: at most `max_length` characters (the catalog column's size), matching `pattern`
    whole, described in `words`; `upper`: stored in capitals."""

    max_length: int
    pattern: str
    words: str
    upper: bool = False

    def accepts(self, value: str) -> bool:
        return len(value) <= self.max_length and re.fullmatch(self.pattern, value) is not None


_CONTROL = r"\x00-\x1f\x7f-\x9f"
# No "/": GET /v1/creators/{creator_id} must reach every stored id; not only dots: "." and ".." are path steps.
ID = TextRule(200, rf"^[^{_CONTROL}/]*[^{_CONTROL}/.][^{_CONTROL}/]*$",
              "an id of 1 to 200 characters, without '/' or control characters, not only dots")
TEXT = TextRule(64, rf"^[^{_CONTROL}]+$", "text of 1 to 64 characters, without control characters")
COUNTRY = TextRule(2, r"^[A-Za-z]{2}$", "an ISO 3166-1 alpha-2 country code (two letters, e.g. US)", upper=True)
