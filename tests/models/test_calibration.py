"""The brand calibration: a conjugate posterior for ln(measured / forecast), and what it does to a forecast."""

import math

import numpy as np
import pytest

from microlift.models.calibration import (
    MIN_WITHIN_SD,
    NICHE_MIN_CAMPAIGNS,
    Calibration,
    Evidence,
    apply,
    calibrate,
    ln_spread,
    posterior,
)

PRIOR = 0.5


def band(p50: float, sd: float) -> dict:
    """A lognormal band with median p50 and ln-scale sd."""
    z = 1.2815515655446004
    return {"mean": p50 * math.exp(sd ** 2 / 2), "p10": p50 * math.exp(-z * sd), "p50": p50,
            "p90": p50 * math.exp(z * sd)}


def rows(ratios, forecast_sd=0.4, measured_sd=0.1):
    return [{"forecast": band(1000.0, forecast_sd), "measured": band(1000.0 * r, measured_sd)} for r in ratios]


def test_a_band_gives_back_its_ln_spread():
    assert ln_spread(band(100.0, 0.3)) == pytest.approx(0.3)
    assert ln_spread({"p10": 0.0, "p50": 5.0, "p90": 10.0}) is None


def test_nothing_measured_leaves_the_forecast_alone_and_says_so():
    none = calibrate([], [], PRIOR, "acme", "beauty")
    assert not none.active and none.campaigns == 0 and none.level == "none"
    assert "no measured campaign" in none.note()
    draws = np.array([10.0, 20.0])
    assert apply(draws, none, np.zeros(2)) is draws


def test_the_posterior_is_the_conjugate_normal_one():
    evidence = [Evidence.of(r["forecast"], r["measured"], PRIOR) for r in rows([2.0, 1.5, 2.5], forecast_sd=0.7)]
    # the campaign's own part of the forecast's spread beyond the brand's (the prior), and the measurement's
    s2 = (0.7 ** 2 - PRIOR ** 2) + 0.1 ** 2
    precision = 1 / PRIOR ** 2 + 3 / s2
    expected = sum(math.log(r) for r in (2.0, 1.5, 2.5)) / s2 / precision
    got = posterior(evidence, PRIOR, "brand", "acme")
    assert got.shift == pytest.approx(expected)
    assert got.shift_sd == pytest.approx(1 / math.sqrt(precision))
    # shrunk towards no offset, on the side the campaigns point to
    assert 0 < got.shift < math.log(2.0)


@pytest.mark.parametrize("truth", [0.5, 2.0])
def test_more_campaigns_move_the_offset_closer_to_the_truth(truth):
    rng = np.random.default_rng(0)
    errors = []
    for n in (1, 3, 10, 40):
        ratios = truth * np.exp(rng.normal(0, 0.4, n))
        got = calibrate(rows(ratios), [], PRIOR, "acme", "beauty")
        assert got.campaigns == n and got.level == "brand"
        errors.append(abs(got.shift - math.log(truth)))
    assert errors[-1] < 0.2 and errors[-1] < errors[0]


def test_campaigns_that_land_close_narrow_the_range_and_scattered_ones_widen_it():
    close = calibrate(rows([1.5] * 8), [], PRIOR, "acme", "beauty")
    rng = np.random.default_rng(1)
    scattered = calibrate(rows(1.5 * np.exp(rng.normal(0, 1.2, 8))), [], PRIOR, "acme", "beauty")
    assert close.scale < 0.8 < 1.3 < scattered.scale
    assert "narrower" in close.note() and "wider" in scattered.note()


def test_the_calibrated_spread_keeps_the_campaigns_part_and_never_less_than_its_floor():
    wide = Evidence.of(band(1000.0, 0.8), band(1000.0, 0.1), PRIOR)
    assert wide.within_share == pytest.approx((0.8 ** 2 - PRIOR ** 2) / 0.8 ** 2)
    narrow = Evidence.of(band(1000.0, 0.3), band(1000.0, 0.1), PRIOR)
    assert narrow.within_share == pytest.approx(MIN_WITHIN_SD ** 2 / 0.3 ** 2)
    assert narrow.sd == pytest.approx(math.sqrt(MIN_WITHIN_SD ** 2 + 0.1 ** 2))
    one = calibrate(rows([1.0], forecast_sd=0.8), [], PRIOR, "acme", "beauty")
    assert one.scale < 1.0 and one.shift_sd < PRIOR


def test_a_lift_measured_at_or_below_zero_counts_as_far_below_the_forecast():
    measured = {"mean": -20.0, "p10": -300.0, "p50": -20.0, "p90": 250.0}
    evidence = Evidence.of(band(1000.0, 0.4), measured, PRIOR)
    assert evidence.log_ratio == pytest.approx(math.log(0.02))
    assert evidence.sd > 0.4


def test_a_forecast_of_nothing_gives_no_evidence():
    assert Evidence.of({"mean": 0, "p10": 0, "p50": 0.0, "p90": 0}, band(10.0, 0.2), PRIOR) is None


def test_the_niche_calibrates_a_brand_with_no_campaigns_once_it_has_enough():
    few = rows([2.0] * (NICHE_MIN_CAMPAIGNS - 1))
    assert calibrate([], few, PRIOR, "newco", "beauty").level == "none"
    enough = calibrate([], rows([2.0] * NICHE_MIN_CAMPAIGNS), PRIOR, "newco", "beauty")
    assert enough.level == "niche" and enough.key == "beauty" and enough.campaigns == NICHE_MIN_CAMPAIGNS
    own = calibrate(rows([0.5]), rows([2.0] * 10), PRIOR, "acme", "beauty")
    assert own.level == "brand" and own.shift < 0


def test_applying_it_multiplies_every_roster_of_a_draw_alike():
    cal = Calibration(level="brand", key="acme", campaigns=3, shift=math.log(2.0), shift_sd=0.1, prior_sd=PRIOR)
    noise = np.array([0.0, 1.0, -1.0])
    draws = np.array([[10.0, 20.0], [10.0, 20.0], [10.0, 20.0]])
    moved = apply(draws, cal, noise)
    assert moved[0] == pytest.approx([20.0, 40.0])
    assert moved[1, 1] / moved[1, 0] == pytest.approx(2.0)
    assert moved[1, 0] == pytest.approx(20.0 * math.exp(0.1))
    assert cal.as_dict()["multiplier"]["p50"] == pytest.approx(2.0)
