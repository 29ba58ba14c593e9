"""Accuracy measures, all scored against observed values (DESIGN §5)."""

from __future__ import annotations

import numpy as np


def r2(observed, predicted) -> float:
    """Coefficient of determination."""
    y, p = np.asarray(observed, dtype=float), np.asarray(predicted, dtype=float)
    total = ((y - y.mean()) ** 2).sum()
    return float(1.0 - ((y - p) ** 2).sum() / total) if total > 0 else float("nan")


def poisson_deviance(observed, predicted) -> float:
    """Mean Poisson deviance of counts against predicted means (lower is better)."""
    y = np.asarray(observed, dtype=float)
    mu = np.maximum(np.asarray(predicted, dtype=float), 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(np.mean(2.0 * (term - (y - mu))))


def mdape(observed, predicted) -> float:
    """Median absolute percentage error, over rows whose observed value is not zero (a share: 0.25 = 25%)."""
    y, p = np.asarray(observed, dtype=float), np.asarray(predicted, dtype=float)
    keep = y != 0
    return float(np.median(np.abs(p[keep] - y[keep]) / np.abs(y[keep])))


def coverage(observed, low, high) -> float:
    """Share of observed values inside [low, high]."""
    y = np.asarray(observed, dtype=float)
    return float(np.mean((y >= np.asarray(low)) & (y <= np.asarray(high))))


def log_loss(observed, predicted) -> float:
    """Mean negative log-likelihood of 0/1 outcomes under predicted probabilities (lower is better)."""
    y = np.asarray(observed, dtype=float)
    p = np.clip(np.asarray(predicted, dtype=float), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def calibration_gaps(observed, predicted, bins: int = 10) -> np.ndarray:
    """Predicted minus observed rate of 0/1 outcomes in each decile (`bins` equal-count groups) of prediction."""
    y, p = np.asarray(observed, dtype=float), np.asarray(predicted, dtype=float)
    order = np.argsort(p, kind="stable")
    return np.array([p[part].mean() - y[part].mean() for part in np.array_split(order, bins) if len(part)])
