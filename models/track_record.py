"""The track record: how the forecasts of kept plans compare with the lift measured once their results came in.

Each row is one measured, planned campaign (serving.campaigns.track_record_rows): the forecast's band of incremental
units over the campaign ({mean, p10, p50, p90}) and the measured band during it. The figures:

- inside_80: share of campaigns whose measured median lies in the forecast's 80% range (p10..p90, ends included).
- median_ape: median of |measured p50 - forecast p50| / |measured p50|. A measured median within MIN_MEASURED units
  of zero has no percentage error worth the name (any forecast is "infinitely" off), so such campaigns are left
  out of it and counted in `ape_left_out`.
- median_log_ratio: median of ln(measured p50 / forecast p50) over campaigns where both are above zero; above 0,
  the forecasts were low (the bias a brand calibration learns).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_MEASURED = 1.0  # units: a measured median closer to zero than this gives no percentage error


def _figures(rows: Sequence[dict]) -> dict:
    """campaigns, inside_80, median_ape (and how many were left out of it) and median_log_ratio of some rows."""
    if not rows:
        return {"campaigns": 0, "inside_80": None, "median_ape": None, "ape_left_out": 0, "median_log_ratio": None}
    forecast = np.array([[r["forecast"]["p10"], r["forecast"]["p50"], r["forecast"]["p90"]] for r in rows], float)
    measured = np.array([r["measured"]["p50"] for r in rows], dtype=float)
    inside = (forecast[:, 0] <= measured) & (measured <= forecast[:, 2])
    scored = np.abs(measured) >= MIN_MEASURED
    ape = np.abs(measured[scored] - forecast[scored, 1]) / np.abs(measured[scored])
    positive = (measured > 0) & (forecast[:, 1] > 0)
    ratio = np.log(measured[positive] / forecast[positive, 1])
    return {"campaigns": len(rows), "inside_80": float(inside.mean()),
            "median_ape": float(np.median(ape)) if len(ape) else None, "ape_left_out": int((~scored).sum()),
            "median_log_ratio": float(np.median(ratio)) if len(ratio) else None}


def month_of(row: dict) -> str:
    """The month a campaign counts in over time: the month its forecast was made ("YYYY-MM" of created_at)."""
    return str(row["created_at"])[:7]


def summarise(rows: list[dict]) -> dict:
    """The track record's figures over all rows, by model version set (in the order the sets were first measured)
    and by month of the forecast (oldest first), with the rows themselves."""
    by_version: dict[str, list[dict]] = {}
    by_month: dict[str, list[dict]] = {}
    for row in rows:
        by_version.setdefault(row["versions"], []).append(row)
        by_month.setdefault(month_of(row), []).append(row)
    return {
        **_figures(rows),
        "by_version_set": [{"versions": versions, **_figures(group)} for versions, group in by_version.items()],
        "by_month": [{"month": month, **_figures(by_month[month])} for month in sorted(by_month)],
        "rows": rows,
    }
