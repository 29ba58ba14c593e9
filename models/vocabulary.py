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

# Each vocabulary by the name of the field that holds one of its values, and the synonyms it accepts.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "platform": PLATFORMS, "niche": NICHES, "tier": TIERS, "format": FORMATS, "compensation": COMPENSATIONS,
    "marketplace": MARKETPLACES,
}
ALIASES: dict[str, dict[str, str]] = {"platform": PLATFORM_ALIASES, "niche": NICHE_ALIASES}


def canonical(kind: str, value: object) -> str | None:
    """The vocabulary `kind`'s own spelling of `value` ("platform", " IG " -> "instagram"; "niche", "Interior" ->
    "home"), ignoring case, surrounding and repeated spaces, synonyms and platform aliases; None when it names
    nothing of that vocabulary. The one reading of a categorical value: files, briefs, requests and queries."""
    if not isinstance(value, str):
        return None
    spelled = " ".join(value.split()).lower()
    spelled = ALIASES.get(kind, {}).get(spelled, spelled)
    return spelled if spelled in VOCABULARIES[kind] else None


def accepted(kind: str) -> str:
    """What vocabulary `kind` accepts, in words, for error messages."""
    return "one of " + ", ".join(VOCABULARIES[kind])


def tier_index(followers: np.ndarray) -> np.ndarray:
    """Tier position (0=nano .. 3=mega) for an array of follower counts."""
    return np.searchsorted(np.asarray(TIER_LOWER_BOUNDS[1:]), np.asarray(followers), side="right")


def tier_of(followers: np.ndarray) -> np.ndarray:
    """Tier name for each follower count."""
    return np.asarray(TIERS, dtype=object)[tier_index(followers)]


def normalize_niche(values: np.ndarray | list[str]) -> tuple[np.ndarray, int]:
    """Map raw niche labels onto NICHES (`canonical`); unknown labels become `other`. Returns (niches, how many were
    unknown)."""
    spelled = {v: canonical("niche", str(v)) for v in set(values)}
    mapped = np.array([spelled[v] or "other" for v in values], dtype=object)
    return mapped, sum(spelled[v] is None for v in values)
