"""Answers rounded to what their numbers mean: units and counts to a tenth, money to cents, ratios and chances to a
thousandth (`DECIMALS`). A band ({mean, p10, p50, p90}) takes its field's places; fields not named (ids, the lift
model's slopes) are left whole. An answer's numbers are finite: rounding refuses NaN and infinities (`NonFinite`), a
server's bug rather than something to send, so a rounded answer needs no second look before it is encoded."""

from __future__ import annotations

import math

import numpy as np

_MONEY = ("budget", "cost", "total_cost", "expected_cost", "incremental_revenue", "net_revenue", "profit", "price",
          "price_per_post", "spend", "cost_if_posting")
_UNITS = ("units_per_month_during", "incremental_units_per_month", "incremental_units", "attributed_units",
          "engagements", "posts", "expected_posts", "creators_posting", "baseline_units_per_month",
          "models_incremental_units")
_RATIOS = ("roas", "roi", "lift_multiple", "p_roi_positive", "p_revenue_above_cost", "posting", "marginal_roas",
           "target_roas", "margin", "relevance", "shift", "shift_sd", "scale", "prior_sd", "multiplier")
DECIMALS = {**{k: 2 for k in _MONEY}, **{k: 1 for k in _UNITS}, **{k: 3 for k in _RATIOS}}
BAND = ("mean", "p10", "p50", "p90")
_FEW = 16  # values up to which Python's round, one by one, costs less than numpy's calls


class NonFinite(ValueError):
    """A NaN or an infinity in an answer: a bug in what computed it."""

    def __init__(self, field: str | None):
        super().__init__(f"a non-finite number in the answer's {field or 'numbers'}")


def rounded(answer, decimals: int | None = None):
    """The answer with its numbers rounded to what they mean (`DECIMALS`); a list of records (a ranking's creators, a
    roster) a field at a time, each field's places looked up once. `NonFinite` on a NaN or an infinity."""
    if isinstance(answer, list):
        if len(answer) >= 8 and answer[0].__class__ is dict:
            keys = answer[0].keys()
            if all(r.__class__ is dict and r.keys() == keys for r in answer):
                columns = [_rounded_column([r[key] for r in answer], None if key in BAND else DECIMALS.get(key))
                           for key in keys]
                return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
        return [rounded(v) for v in answer]
    if not isinstance(answer, dict):
        return _rounded(answer, decimals)
    return {key: _rounded(value, decimals if key in BAND else DECIMALS.get(key)) for key, value in answer.items()}


def column(field: str, values: np.ndarray) -> list:
    """One field's numbers (a column of records) rounded as `rounded` rounds them in each record, as a list: the
    same values, without walking the records."""
    places = DECIMALS.get(field)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise NonFinite(field)
    if places is None:
        return values.tolist()
    if len(values) < _FEW:
        return [round(v, places) for v in values.tolist()]
    return round_array(np.asarray(values, dtype=float), places).tolist()


def round_array(values: np.ndarray, places: int) -> np.ndarray:
    """Each value as Python's `round(value, places)` gives it, to the last bit (NaN and infinities kept), in numpy.

    Scaling by 10**places is exact to half a unit in the last place, so only a value whose scaled form lies that
    close to a half can round the other way than its exact decimal value does: those few are rounded by Python."""
    scale = 10.0**places
    scaled = values * scale
    out = np.round(scaled) / scale
    with np.errstate(invalid="ignore"):  # infinities: inf - inf is NaN, never near a half
        near_half = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) <= 1e-12 * np.maximum(np.abs(scaled), 1.0)
    for i in np.flatnonzero(near_half).tolist():
        out[i] = round(float(values[i]), places)
    return out


def _rounded_column(values: list, places: int | None) -> list:
    """A field's values in a list of records, rounded: numbers and bands in numpy (`round_array`), anything else
    one by one."""
    if places is not None and len(values) >= _FEW:
        if all(v.__class__ is float for v in values):
            array = np.array(values)
            if not np.isfinite(array).all():
                raise NonFinite(None)
            return round_array(array, places).tolist()
        order = list(values[0]) if values and values[0].__class__ is dict else None
        if order and set(order) == _BAND_KEYS and all(v.__class__ is dict and list(v) == order for v in values):
            quantiles = [_rounded_column([v[q] for v in values], places) for q in order]
            return [dict(zip(order, row, strict=True)) for row in zip(*quantiles, strict=True)]
    return [_rounded(v, places) for v in values]


_finite = math.isfinite
_BAND_KEYS = set(BAND)


def _rounded(value, places: int | None):
    """One field's value rounded to `places`: a number, a band ({mean, p10, p50, p90}, inline: the common case) or a
    nested answer."""
    kind = value.__class__
    if kind is float:
        if not _finite(value):
            raise NonFinite(None)
        return value if places is None else round(value, places)
    if kind is dict and places is not None and value.keys() == _BAND_KEYS:
        return {q: round(v, places) if v.__class__ is float and _finite(v) else _rounded(v, places)
                for q, v in value.items()}
    if kind is dict or kind is list:
        return rounded(value, places)
    if isinstance(value, float | np.floating) and not _finite(value):  # numpy's floats, kept as they are
        raise NonFinite(None)
    return value
