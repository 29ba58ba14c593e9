"""Answers are rounded to what their numbers mean (`rounding.DECIMALS`), a list of records a field at a time."""

import math

import numpy as np
import pytest

from microlift.models.rounding import NonFinite, column, round_array, rounded


def record(i: int) -> dict:
    band = {"mean": 10.123456 + i, "p10": 1.98765, "p50": None if i == 3 else 5.55555, "p90": 1e300}
    return {"rank": i + 1, "creator_id": f"c{i}", "price_per_post": 12.345678 * i, "followers": 1000 + i,
            "posting": None if i == 2 else 0.12345 * i, "incremental_revenue": band, "engagements": dict(band),
            "reasons": [f"reason {i}", "another"], "other": 1.23456789, "marginal_roas": -1e-300,
            "nested": [{"cost": 1.23456, "p10": 2.3456}], "curve": {"budget": 3.14159}}


def test_a_list_of_records_is_rounded_as_each_record_alone():
    # given: records of numbers, bands, missing and extreme values, text and nested answers
    records = [record(i) for i in range(20)]  # enough for the columns to be rounded in numpy
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


@pytest.mark.parametrize("places", [1, 2, 3])
def test_numpy_rounding_gives_pythons_round_to_the_last_bit(places):
    # given: numbers of every size and sign, exact decimal halves, values just beside them, and non-finite ones
    rng = np.random.default_rng(places)
    halves = (np.arange(-20_000, 20_000) + 0.5) / 10**places
    values = np.concatenate([rng.normal(0, 1, 100_000) * 10 ** rng.uniform(-4, 12, 100_000), halves,
                             np.nextafter(halves, np.inf), np.nextafter(halves, -np.inf),
                             [math.nan, math.inf, -math.inf, 0.0, -0.0, 2.675, 1.005, 0.125, 1e300, 2.5e15 + 0.5]])
    # when
    got = round_array(values, places)
    # then: the same floats as Python's round, sign of zero included
    want = np.array([round(float(v), places) for v in values])
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("where", ["price_per_post", "band", "other", "nested", "curve", "one record"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_a_non_finite_number_anywhere_in_an_answer_is_refused(where, bad):
    # given: an answer whose numbers are finite but one (a bug upstream: JSON has no NaN, and null would hide it)
    records = [record(i) for i in range(20)]
    target = records[7]
    match where:
        case "band":
            target["incremental_revenue"]["p10"] = bad
        case "nested":
            target["nested"][0]["cost"] = bad
        case "curve":
            target["curve"]["budget"] = bad
        case "one record":
            records = {"roster": record(1) | {"cost": bad}}
        case _:
            target[where] = bad
    # when / then
    with pytest.raises(NonFinite):
        rounded(records)
    assert rounded([record(i) for i in range(20)])  # the same answer without it is rounded


@pytest.mark.parametrize("n", [3, 40])
def test_a_column_with_a_non_finite_number_is_refused(n):
    values = np.arange(n, dtype=float)
    values[1] = math.nan
    for field in ("cost", "creator_slope"):
        with pytest.raises(NonFinite, match=field):
            column(field, values)


def test_a_column_is_rounded_as_its_field_means():
    values = np.array([1.23456, 9.87654, 2.5e-3])
    cost = column("cost", values)
    assert cost[0] == 1.23 and cost[1] == 9.88 and cost[2] == 0.0
    many = np.random.default_rng(0).normal(0, 100, 40)  # long columns are rounded in numpy, short ones in Python
    assert column("cost", many) == [round(v, 2) for v in many.tolist()] == column("cost", many[:10]) + \
        column("cost", many[10:])
    assert column("roas", values)[::2] == [1.235, 0.003]
    assert column("creator_slope", values)[::2] == [1.23456, 2.5e-3]  # a field not named keeps its digits


def test_bands_in_any_key_order_are_rounded_in_place():
    # given: bands whose keys come in another order than usual, and a column mixing numbers and missing values
    records = [{"cost": {"p90": 3.14159 * i, "mean": 1.23456, "p10": 0.5, "p50": 2.0}, "roas": None if i == 4 else
                1.23456 * i} for i in range(20)]
    # when / then: the same as each record alone, key order kept
    together = rounded(records)
    assert repr(together) == repr([rounded(r) for r in records])
    assert list(together[3]["cost"]) == ["p90", "mean", "p10", "p50"] and together[3]["cost"]["p90"] == 9.42
