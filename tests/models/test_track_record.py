"""The track record's figures: coverage of the forecast's 80% range, median percentage error, median log ratio, by
model version set and by month. (The figures against the stored rows: tests/serving/test_campaigns.py.)"""

from __future__ import annotations

import math

import pytest

from microlift.models.track_record import summarise


def row(campaign_id, forecast, measured, versions="engagement v1, conversion v1, lift v1, posting v1",
        created_at="2026-01-10T09:00:00+00:00"):
    p10, p50, p90 = forecast
    return {"campaign_id": campaign_id, "brand": "acme", "niche": "home", "created_at": created_at,
            "measured_at": "2026-05-01T00:00:00+00:00", "versions": versions,
            "forecast": {"mean": p50, "p10": p10, "p50": p50, "p90": p90},
            "measured": {"mean": measured, "p10": measured - 10, "p50": measured, "p90": measured + 10},
            "attributed_units": None}


ROWS = [
    row("c1", (100, 200, 300), 250, versions="A", created_at="2026-01-05T00:00:00+00:00"),  # inside, APE 0.2
    row("c2", (100, 200, 300), 400, versions="A", created_at="2026-02-05T00:00:00+00:00"),  # outside, APE 0.5
    row("c3", (50, 80, 120), 0.5, versions="B", created_at="2026-01-20T00:00:00+00:00"),    # ~0 measured: no APE
    row("c4", (10, 20, 30), -5, versions="B", created_at="2026-03-01T00:00:00+00:00"),      # below zero: APE 5
]


def test_the_figures_follow_their_definitions():
    summary = summarise(ROWS)
    assert summary["campaigns"] == 4
    assert summary["inside_80"] == 0.25
    assert summary["median_ape"] == pytest.approx(0.5)  # median of 0.2, 0.5 and 25 / 5
    assert summary["ape_left_out"] == 1
    # ln(measured / forecast) where both are above zero: ln 1.25, ln 2, ln(0.5 / 80)
    assert summary["median_log_ratio"] == pytest.approx(math.log(1.25))
    assert summary["rows"] is ROWS


def test_figures_by_version_set_and_by_month_of_the_forecast():
    summary = summarise(ROWS)
    assert [(g["versions"], g["campaigns"], g["inside_80"], g["median_ape"]) for g in summary["by_version_set"]] \
        == [("A", 2, 0.5, pytest.approx(0.35)), ("B", 2, 0.0, pytest.approx(5.0))]
    assert [(g["month"], g["campaigns"]) for g in summary["by_month"]] == [("2026-01", 2), ("2026-02", 1),
                                                                           ("2026-03", 1)]
    january = summary["by_month"][0]
    assert january["inside_80"] == 0.5 and january["median_ape"] == pytest.approx(0.2)
    assert january["ape_left_out"] == 1


def test_a_measured_median_on_the_forecast_edges_counts_as_inside():
    edges = [row("low", (100, 200, 300), 100), row("high", (100, 200, 300), 300)]
    assert summarise(edges)["inside_80"] == 1.0


def test_no_campaigns_no_figures():
    summary = summarise([])
    assert summary == {"campaigns": 0, "inside_80": None, "median_ape": None, "ape_left_out": 0,
                       "median_log_ratio": None, "by_version_set": [], "by_month": [], "rows": []}
