"""Answers are rounded to what their numbers mean (`planning.DECIMALS`), a list of records a field at a time."""

import math

from microlift.models.planning import rounded


def record(i: int) -> dict:
    band = {"mean": 10.123456 + i, "p10": 1.98765, "p50": math.nan if i == 3 else 5.55555, "p90": math.inf}
    return {"rank": i + 1, "creator_id": f"c{i}", "price_per_post": 12.345678 * i, "followers": 1000 + i,
            "posting": None if i == 2 else 0.12345 * i, "incremental_revenue": band, "engagements": dict(band),
            "reasons": [f"reason {i}", "another"], "other": 1.23456789, "marginal_roas": -math.inf,
            "nested": [{"cost": 1.23456, "p10": 2.3456}], "curve": {"budget": 3.14159}}


def test_a_list_of_records_is_rounded_as_each_record_alone():
    # given: records of numbers, bands, missing and infinite values, text and nested answers
    records = [record(i) for i in range(12)]
    # when
    together = rounded(records)
    alone = [rounded(r) for r in records]
    # then: the same values, fields in the same order
    assert repr(together) == repr(alone)
    assert [list(r) for r in together] == [list(r) for r in records]
    assert together[1]["price_per_post"] == 12.35 and together[1]["incremental_revenue"]["mean"] == 11.12
    assert together[1]["posting"] == 0.123 and together[1]["other"] == 1.23456789


def test_records_of_different_fields_are_rounded_one_by_one():
    # given: one record unlike the others
    records = [record(i) for i in range(9)] + [{"cost": 1.23456, "units": 2}]
    # when / then
    assert repr(rounded(records)) == repr([rounded(r) for r in records])
