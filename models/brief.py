"""A planner's campaign brief: what is sold, where, how creators are paid, and for how long."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from microlift.models import economics
from microlift.models.economics import SHIPPING_COST, WEEKS_PER_MONTH
from microlift.models.errors import PlanningError
from microlift.models.vocabulary import COMPENSATIONS, MARKETPLACES, NICHES, PLATFORMS, TIERS

OBJECTIVES = ("profit", "roi", "conversions", "engagement")
# Accepted range of each numeric field (inclusive), in the field's unit.
LIMITS: dict[str, tuple[float, float]] = {
    "product_price": (0.01, 1e6), "baseline_units_per_month": (0, 1e8), "weeks": (0.5, 104), "gift_value": (0, 1e6),
    "commission_rate": (0, 1), "shipping_cost": (0, 1e4), "margin": (0, 1), "budget": (0, 1e9),
}


class BriefError(PlanningError):
    """A brief field is wrong: names the field (within the brief), the value and what is accepted."""

    def __init__(self, field: str, value, accepted: str):
        super().__init__(field, value, accepted)


@dataclass(frozen=True)
class Brief:
    """Units: USD for money, units per month for sales, weeks for length, shares 0-1 for rates."""

    niche: str
    product_price: float
    baseline_units_per_month: float
    compensation: str = "gifting"
    marketplace: str = "other"
    discount_code: bool = False
    gift_value: float | None = None      # USD of product per creator (gifting, affiliate); default: the price
    commission_rate: float | None = None  # affiliate; default DEFAULT_COMMISSION
    shipping_cost: float = SHIPPING_COST
    weeks: float = 4.0
    margin: float | None = None          # gross margin; profit and ROI use 1.0 (revenue) when not given
    platforms: tuple[str, ...] | None = None
    tiers: tuple[str, ...] | None = None  # only creators of these tiers are candidates

    @property
    def months(self) -> float:
        return self.weeks / WEEKS_PER_MONTH

    @property
    def gift(self) -> float:
        return economics.gift_cost(self.product_price, self.gift_value, self.shipping_cost)

    @property
    def commission(self) -> float:
        return economics.commission_rate(self.commission_rate)

    @property
    def commission_per_unit(self) -> float:
        """USD an affiliate earns per unit sold."""
        return self.commission * self.product_price

    @property
    def margin_or_revenue(self) -> float:
        return self.margin if self.margin is not None else 1.0

    def context(self) -> dict:
        """Campaign fields the feature module reads, for every candidate row."""
        code = self.discount_code or self.compensation == "affiliate"  # affiliates always share a code
        return {"campaign_niche": self.niche, "compensation": self.compensation, "product_price": self.product_price,
                "marketplace": self.marketplace, "discount_code": code, "sponsored": True, "weeks": self.weeks,
                "baseline_units_per_month": self.baseline_units_per_month,
                "gift_value": np.nan if self.gift_value is None else self.gift_value,
                "commission_rate": np.nan if self.commission_rate is None else self.commission_rate}

    @classmethod
    def from_mapping(cls, data: Mapping) -> Brief:
        """Validate a JSON-like mapping; raises BriefError naming the first wrong field."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BriefError(unknown[0], data[unknown[0]], "one of the fields " + ", ".join(sorted(known)))
        values = dict(data)
        for name in ("niche", "product_price", "baseline_units_per_month"):
            if values.get(name) is None:
                raise BriefError(name, None, "a value (required)")
        values["niche"] = _choice("niche", values["niche"], NICHES)
        values["compensation"] = _choice("compensation", values.get("compensation", "gifting"), COMPENSATIONS)
        values["marketplace"] = _choice("marketplace", values.get("marketplace", "other"), MARKETPLACES)
        if values.get("platforms") is not None:
            if isinstance(values["platforms"], str) or not values["platforms"]:
                raise BriefError("platforms", values["platforms"], "a non-empty list of " + ", ".join(PLATFORMS))
            values["platforms"] = tuple(_choice("platforms", p, PLATFORMS) for p in values["platforms"])
        if values.get("tiers") is not None:
            if isinstance(values["tiers"], str) or not values["tiers"]:
                raise BriefError("tiers", values["tiers"], "a non-empty list of " + ", ".join(TIERS))
            values["tiers"] = tuple(_choice("tiers", t, TIERS) for t in values["tiers"])
        for name, (low, high) in LIMITS.items():
            if name in known and values.get(name) is not None:
                values[name] = _number(name, values[name], low, high)
        if not isinstance(values.get("discount_code", False), bool):
            raise BriefError("discount_code", values["discount_code"], "true or false")
        return cls(**values)


def _choice(field: str, value, accepted: tuple[str, ...]) -> str:
    if isinstance(value, str) and value.strip().lower() in accepted:
        return value.strip().lower()
    raise BriefError(field, value, "one of " + ", ".join(accepted))


def _number(field: str, value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not low <= value <= high:
        raise BriefError(field, value, f"a number between {low:g} and {high:g}")
    return float(value)
