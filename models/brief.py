"""A planner's campaign brief: what is sold, where, how creators are paid, and for how long."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

import numpy as np

from microlift.models import economics
from microlift.models.economics import SHIPPING_COST, WEEKS_PER_MONTH
from microlift.models.errors import PlanningError, PlanningErrors
from microlift.models.vocabulary import PLATFORMS, TIERS, accepted, canonical

# What a ranking sorts on. Profit and ROI need the brief's gross margin (revenue is not profit); without one the
# default is net revenue (incremental revenue - cost). "conversions" is the older name of "attributed_units".
OBJECTIVES = ("profit", "net_revenue", "roas", "roi", "attributed_units", "engagement")
OBJECTIVE_ALIASES = {"conversions": "attributed_units"}
NEEDS_MARGIN = ("profit", "roi")
# Accepted range of each numeric field (inclusive), in the field's unit.
LIMITS: dict[str, tuple[float, float]] = {
    "product_price": (0.01, 1e6), "baseline_units_per_month": (0, 1e8), "weeks": (0.5, 104), "gift_value": (0, 1e6),
    "commission_rate": (0, 1), "shipping_cost": (0, 1e4), "margin": (0.01, 1), "budget": (0, 1e9),
}


# The smallest baseline that is not a new product's 0: a hundredth of a unit a month.
MIN_BASELINE = 0.01


def resolve_objective(brief: Brief, objective: str | None) -> str:
    """The objective a ranking sorts on: the brief's default when none is asked, the current name of an old one; profit
    and ROI without a gross margin are refused (naming `objective`), since revenue is not profit."""
    if objective is None:
        return brief.default_objective
    name = OBJECTIVE_ALIASES.get(objective, objective) if isinstance(objective, str) else objective
    if name not in OBJECTIVES:
        raise PlanningError("objective", objective, "one of " + ", ".join(OBJECTIVES))
    if name in NEEDS_MARGIN and brief.margin is None:
        raise PlanningError("objective", objective, "net_revenue, roas, attributed_units or engagement when the "
                            f"brief has no margin ({name} needs brief.margin, the gross margin, since revenue is "
                            "not profit)")
    return name


class BriefError(PlanningErrors):
    """Wrong brief fields, every one found: each names the field (within the brief), the value and what is
    accepted (`errors`); `field`, `value` and `accepted` are the first's."""


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
    margin: float | None = None          # gross margin; profit and ROI exist only with it
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
        """The share of revenue the default objective counts: the margin (profit), or all of it (net revenue)."""
        return self.margin if self.margin is not None else 1.0

    @property
    def default_objective(self) -> str:
        return "profit" if self.margin is not None else "net_revenue"

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
        """Validate a JSON-like mapping; raises BriefError naming every wrong field, not just the first.
        Categorical values may be spelt as `vocabulary.canonical` reads them ("Interior", " IG ", "Micro")."""
        known = {f.name for f in fields(cls)}
        wrong: list[PlanningError] = [PlanningError(name, data[name], "one of the fields " + ", ".join(sorted(known)))
                                      for name in sorted(set(data) - known, key=str)]
        values = {name: value for name, value in data.items() if name in known}
        for name in ("niche", "product_price", "baseline_units_per_month"):
            if values.get(name) is None:
                wrong.append(PlanningError(name, None, "a value (required)"))
                values.pop(name, None)
        for name, kind, default in (("niche", "niche", None), ("compensation", "compensation", "gifting"),
                                    ("marketplace", "marketplace", "other")):
            if name in values or default is not None:
                values[name] = _choice(name, kind, values.get(name, default), wrong)
        for name, kind, vocabulary in (("platforms", "platform", PLATFORMS), ("tiers", "tier", TIERS)):
            if values.get(name) is None:
                continue
            if isinstance(values[name], str | bytes | Mapping) or not isinstance(values[name], Iterable) \
                    or not values[name]:
                wrong.append(PlanningError(name, values[name], "a non-empty list of " + ", ".join(vocabulary)))
            else:
                values[name] = tuple(_choice(name, kind, each, wrong) for each in values[name])
        for name, (low, high) in LIMITS.items():
            if name in known and values.get(name) is not None:
                values[name] = _number(name, values[name], low, high, wrong)
        baseline = values.get("baseline_units_per_month")
        if baseline is not None and 0 < baseline < MIN_BASELINE:  # a lift multiple over ~0 units is no number
            wrong.append(PlanningError("baseline_units_per_month", data["baseline_units_per_month"],
                                       f"0 (a new product) or a number between {MIN_BASELINE:g} and "
                                       f"{LIMITS['baseline_units_per_month'][1]:g}"))
        if not isinstance(values.get("discount_code", False), bool):
            wrong.append(PlanningError("discount_code", values["discount_code"], "true or false"))
        if wrong:
            raise BriefError(wrong)
        return cls(**values)


def _choice(field: str, kind: str, value, wrong: list[PlanningError]) -> str | None:
    """The canonical spelling of a categorical value; a value naming nothing is added to `wrong`."""
    spelled = canonical(kind, value)
    if spelled is None:
        wrong.append(PlanningError(field, value, accepted(kind)))
    return spelled


def _number(field: str, value, low: float, high: float, wrong: list[PlanningError]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not low <= value <= high:
        wrong.append(PlanningError(field, value, f"a number between {low:g} and {high:g}"))
        return None
    return float(value)
