"""The brief's validation: every wrong field at once, categorical values in any accepted spelling."""

from __future__ import annotations

import pytest

from microlift.models import planning
from microlift.models.brief import Brief, BriefError
from microlift.models.errors import PlanningErrors

VALID = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 400}


def test_a_brief_spelt_as_exports_spell_it_is_the_same_brief():
    # given the same brief in canonical values and in other accepted spellings
    plain = Brief.from_mapping({**VALID, "platforms": ["instagram", "tiktok"], "tiers": ["micro"],
                                "compensation": "paid", "marketplace": "amazon"})
    # when
    spelt = Brief.from_mapping({**VALID, "niche": "Interior", "platforms": ["ig", " TikTok "], "tiers": ["Micro"],
                                "compensation": " PAID", "marketplace": "Amazon"})
    # then
    assert spelt == plain


def test_every_wrong_field_of_a_brief_is_named_at_once():
    # given four mistakes
    fields = {**VALID, "niche": "astrology", "product_price": -1, "colour": "red", "platforms": ["ig", "myspace"]}
    # when
    with pytest.raises(BriefError) as caught:
        Brief.from_mapping(fields)
    # then each is named with its value and what is accepted, in one error
    found = [(e.field, e.value, e.accepted) for e in caught.value.errors]
    assert found == [
        ("colour", "red", "one of the fields " + ", ".join(sorted(Brief.__dataclass_fields__))),
        ("niche", "astrology", "one of beauty, fashion, fitness, food, home, parenting, pets, tech, gaming, travel, "
                               "books, other"),
        ("platforms", "myspace", "one of instagram, tiktok, youtube"),
        ("product_price", -1, "a number between 0.01 and 1e+06"),
    ]
    assert str(caught.value).splitlines()[0] == "4 problems:"
    assert "  niche: got 'astrology'; expected one of beauty" in str(caught.value)


def test_the_planning_service_names_each_wrong_field_within_the_brief():
    # when
    with pytest.raises(PlanningErrors) as caught:
        planning.brief({**VALID, "tiers": ["giga"], "compensation": "barter"})
    # then
    assert [e.field for e in caught.value.errors] == ["brief.compensation", "brief.tiers"]
    assert caught.value.field == "brief.compensation"
    assert "brief.tiers: got 'giga'; expected one of nano, micro, macro, mega" in str(caught.value)


def test_a_baseline_between_a_new_products_zero_and_a_hundredth_of_a_unit_is_refused():
    """A lift multiple over ~0 units a month is no number (2e-309 overflowed it); 0 is a new product."""
    from microlift.models.brief import MIN_BASELINE

    with pytest.raises(BriefError) as refused:
        Brief.from_mapping({"niche": "food", "product_price": 1.0, "baseline_units_per_month": 2.2e-309})
    assert refused.value.field == "baseline_units_per_month" and "0 (a new product)" in refused.value.accepted
    assert Brief.from_mapping({"niche": "food", "product_price": 1.0, "baseline_units_per_month": 0})
    assert Brief.from_mapping({"niche": "food", "product_price": 1.0, "baseline_units_per_month": MIN_BASELINE})
