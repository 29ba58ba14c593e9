"""The fixed vocabularies of the domain: platforms, niches, tiers, formats, ways of paying, marketplaces."""

from __future__ import annotations

import numpy as np

PLATFORMS: tuple[str, ...] = ("instagram", "tiktok", "youtube")
NICHES: tuple[str, ...] = (
    "beauty", "fashion", "fitness", "food", "home", "parenting",
    "pets", "tech", "gaming", "travel", "books", "other",
)
FORMATS: tuple[str, ...] = ("feed", "reel", "story", "video", "short")
COMPENSATIONS: tuple[str, ...] = ("gifting", "paid", "affiliate")
MARKETPLACES: tuple[str, ...] = ("amazon", "shopify", "retail", "other")
# Audience countries the models tell apart (ISO 3166-1 alpha-2); any other country shares one code.
COUNTRIES: tuple[str, ...] = (
    "US", "GB", "CA", "AU", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "BR", "MX", "AR", "IN", "ID", "PH", "JP",
    "KR", "AE",
)

# Tiers by followers (DESIGN §2): nano 1k-10k, micro 10k-100k, macro 100k-1M, mega >1M.
# Accounts under 1k followers are counted as nano: they behave like the smallest nano accounts.
TIERS: tuple[str, ...] = ("nano", "micro", "macro", "mega")
TIER_LOWER_BOUNDS: tuple[int, ...] = (0, 10_000, 100_000, 1_000_000)

# Spellings seen in real exports, mapped onto our vocabulary.
NICHE_ALIASES: dict[str, str] = {
    "family": "parenting", "interior": "home", "pet": "pets", "fasion": "fashion",
    "fashion 0.5": "fashion", "sports": "fitness", "gamer": "gaming", "book": "books",
}
PLATFORM_ALIASES: dict[str, str] = {"ig": "instagram", "insta": "instagram", "yt": "youtube", "tt": "tiktok"}


def tier_index(followers: np.ndarray) -> np.ndarray:
    """Tier position (0=nano .. 3=mega) for an array of follower counts."""
    return np.searchsorted(np.asarray(TIER_LOWER_BOUNDS[1:]), np.asarray(followers), side="right")


def tier_of(followers: np.ndarray) -> np.ndarray:
    """Tier name for each follower count."""
    return np.asarray(TIERS, dtype=object)[tier_index(followers)]


def normalize_niche(values: np.ndarray | list[str]) -> tuple[np.ndarray, int]:
    """Map raw niche labels onto NICHES; unknown labels become `other`. Returns (niches, how many were unknown)."""
    cleaned = np.array([str(v).strip().lower() for v in values], dtype=object)
    mapped = np.array([NICHE_ALIASES.get(v, v) for v in cleaned], dtype=object)
    unknown = ~np.isin(mapped, NICHES)
    mapped[unknown] = "other"
    return mapped, int(unknown.sum())
