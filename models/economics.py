"""Planning assumptions that no contract table records, each with its source. A campaign brief may override them.

The contract's posts table only holds creators who posted, so how many invited creators post cannot be learned
from it; these priors come from the article (gifted creators post only sometimes) and stated judgement.
"""

from __future__ import annotations

# Share of invited creators who post: gifting carries no obligation (article), paid posts are contracted,
# affiliates post when they expect sales (judgement).
POST_PROBABILITY = {"gifting": 0.60, "paid": 0.97, "affiliate": 0.75}
# Expected posts from a creator who posts (judgement: paid deals often include a second post or a story).
POSTS_IF_POSTING = {"gifting": 1.10, "paid": 1.55, "affiliate": 1.35}
SHIPPING_COST = 8.0          # USD per gifted parcel (judgement)
DEFAULT_COMMISSION = 0.15    # affiliate commission per sale when the brief gives none (judgement)
# People who engage with one niche on one platform in a brand's market (judgement). Creators of the same niche and
# platform draw on the same pool, so their engaged audiences overlap: unique = Q * (1 - exp(-engagements / Q)).
ENGAGED_POOL = {"instagram": 8.0e5, "tiktok": 1.2e6, "youtube": 2.0e5}
# USD per 1k followers for a sponsored post when a creator has no price (IMH rule of thumb, benchmarks.md §5).
PRICE_PER_1K_FOLLOWERS = {"instagram": 10.0, "tiktok": 2.5, "youtube": 20.0}
