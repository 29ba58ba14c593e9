"""What a brand's own measured campaigns say about the next forecast: a posterior for ln(measured / forecast).

How far a campaign lands from the models' forecast has two parts: what belongs to the brand (its product, its
audience: the same in every campaign it runs) and what belongs to the campaign (who posts, the weeks it runs). The
lift model's residual spread is the first part's prior sd (brands differ about as much as the model's held-out
campaigns scatter around it; Meridian's experiment-calibrated priors and PyMC-Marketing's lift-test likelihood do
the same at channel level); the forecast's own spread beyond it is the second part:

    mu ~ N(0, prior_sd^2),   r_i = ln(measured_i / forecast_i) ~ N(mu, within_i^2 + measured_sd_i^2),
    within_i^2 = max(forecast_sd_i^2 - prior_sd^2, MIN_WITHIN_SD^2)          =>   mu | r ~ N(mean, sd^2).

The next forecast's draws are multiplied by exp(mu), mu drawn from that posterior, and the lift model's campaign-level
spread is narrowed to the campaign's part (`within_share`): what the brand's campaigns taught is no longer unknown,
and a few campaigns widen the range again by the uncertainty left in mu. How far the brand's campaigns scatter
around the shifted forecast, against how far they were expected to, scales that spread once more (an inverse-gamma
posterior on the variance ratio with `PRIOR_CAMPAIGNS` pseudo-campaigns at 1): campaigns that land close narrow
the range, campaigns all over widen it. The forecast compares with the models' own forecast of each campaign, never
with one already calibrated. The answer says how many campaigns inform it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

Z90 = 1.2815515655446004
# Pseudo-campaigns behind the prior on the spread ratio: a brand needs several campaigns to move its width much.
PRIOR_CAMPAIGNS = 6.0
# A measured lift at or under zero still says "far less than forecast": it counts as this share of the forecast.
MEASURED_FLOOR = 0.02
# The least a campaign scatters around its brand's usual result on the ln scale (one campaign's own luck: who
# posts, the weeks it runs), whatever the forecast's spread beyond the prior: variance 0.05.
MIN_WITHIN_SD = 0.05 ** 0.5
# Campaigns of one niche, across brands, before the niche's calibration is used for a brand with none of its own.
NICHE_MIN_CAMPAIGNS = 5
LEVELS = ("brand", "niche", "none")


def ln_spread(band: Mapping) -> float | None:
    """The sd on the ln scale implied by a band's p10..p90 (None when p10 is not above zero)."""
    p10, p90 = float(band["p10"]), float(band["p90"])
    if not (p10 > 0 and p90 > p10):
        return None
    return (math.log(p90) - math.log(p10)) / (2 * Z90)


@dataclass(frozen=True)
class Evidence:
    """One measured campaign: ln(measured / the models' forecast median), its sd (the campaign's own part of the
    forecast's spread and the measurement's), and the campaign's part of the forecast's variance."""

    log_ratio: float
    sd: float
    within_share: float = 1.0

    @classmethod
    def of(cls, forecast: Mapping, measured: Mapping, prior_sd: float) -> Evidence | None:
        """From the models' forecast band and the measured band of incremental units over the campaign (None when
        the forecast expected nothing, so no ratio exists)."""
        expected = float(forecast["p50"])
        if not expected > 0:
            return None
        value = max(float(measured["p50"]), MEASURED_FLOOR * expected)
        forecast_sd = ln_spread(forecast) or math.sqrt(prior_sd ** 2 + MIN_WITHIN_SD ** 2)
        within = max(forecast_sd ** 2 - prior_sd ** 2, MIN_WITHIN_SD ** 2)
        measured_sd = ln_spread(measured)
        if measured_sd is None:  # an interval reaching zero: as uncertain as the difference of its ends allows
            measured_sd = max(math.log(max(float(measured["p90"]), value) / value), prior_sd)
        return cls(math.log(value / expected), math.sqrt(within + measured_sd ** 2),
                   min(1.0, within / forecast_sd ** 2))


@dataclass(frozen=True)
class Calibration:
    """How the next forecast moves: `shift` (posterior mean of ln(measured / forecast)) with its sd, and `scale` on
    the campaign-level spread; `campaigns` measured campaigns of `level` (brand, niche or none) `key` inform it."""

    level: str = "none"
    key: str | None = None
    campaigns: int = 0
    shift: float = 0.0
    shift_sd: float = 0.0
    scale: float = 1.0
    prior_sd: float | None = None

    @property
    def active(self) -> bool:
        return self.campaigns > 0

    def multiplier(self) -> dict[str, float]:
        """exp(shift) with its 80% interval: what the forecast's units are multiplied by."""
        return {"p10": math.exp(self.shift - Z90 * self.shift_sd), "p50": math.exp(self.shift),
                "p90": math.exp(self.shift + Z90 * self.shift_sd)}

    def note(self) -> str:
        if not self.active:
            return ("no measured campaign informs this forecast: it is the models' alone (import results of past "
                    "campaigns, with a brand, to calibrate it)")
        m = self.multiplier()
        width = "narrower than" if self.scale < 0.95 else "wider than" if self.scale > 1.05 else "about as wide as"
        return (f"calibrated by {self.campaigns} measured campaign{'s' if self.campaigns != 1 else ''} of {self.level} "
                f"{self.key}: units x{m['p50']:.2f} (80%: x{m['p10']:.2f} - x{m['p90']:.2f}); ranges {width} the "
                f"models' alone (x{self.scale:.2f} on how a campaign lands)")

    def as_dict(self) -> dict:
        out = asdict(self)
        out["multiplier"] = self.multiplier() if self.active else None
        out["note"] = self.note()
        return out


def posterior(evidence: Iterable[Evidence], prior_sd: float, level: str, key: str | None) -> Calibration:
    """The conjugate posterior of the offset and of the spread ratio from measured campaigns (oldest first)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    items = [e for e in evidence if e is not None]
    if not items or not prior_sd > 0:
        return Calibration(prior_sd=prior_sd if prior_sd > 0 else None)
    r = np.array([e.log_ratio for e in items])
    w = 1.0 / np.array([e.sd for e in items]) ** 2
    precision = 1.0 / prior_sd ** 2 + w.sum()
    mean = float((w * r).sum() / precision)
    sd = float(1.0 / math.sqrt(precision))
    # the spread ratio: standardized scatter around the posterior mean, against PRIOR_CAMPAIGNS pseudo-campaigns at 1
    scatter = float((w * (r - mean) ** 2).sum())
    a, b = PRIOR_CAMPAIGNS / 2 + 1 + (len(items) - 1) / 2, PRIOR_CAMPAIGNS / 2 + scatter / 2
    # the campaign's part of the spread: the brand's part is now the posterior's (shift_sd), not the model's
    within = float(np.median([e.within_share for e in items]))
    return Calibration(level=level, key=key, campaigns=len(items), shift=mean, shift_sd=sd,
                       scale=float(math.sqrt(within * b / (a - 1))), prior_sd=prior_sd)


def calibrate(brand_rows: list[Mapping], niche_rows: list[Mapping], prior_sd: float, brand: str | None,
              niche: str) -> Calibration:
    """The brand's calibration when it has measured campaigns; the niche's (across brands) when it has at least
    NICHE_MIN_CAMPAIGNS and the brand none; otherwise none. Rows hold `forecast` and `measured` bands."""
    if brand is not None and brand_rows:
        return posterior((Evidence.of(r["forecast"], r["measured"], prior_sd) for r in brand_rows), prior_sd,
                         "brand", brand)
    if len(niche_rows) >= NICHE_MIN_CAMPAIGNS:
        return posterior((Evidence.of(r["forecast"], r["measured"], prior_sd) for r in niche_rows), prior_sd,
                         "niche", niche)
    return Calibration(prior_sd=prior_sd)


def apply(incremental: np.ndarray, calibration: Calibration, shift_noise: np.ndarray) -> np.ndarray:
    """Incremental-unit draws (draws x rosters, or draws) moved by the brand's offset: each draw's offset is drawn
    from the posterior by `shift_noise` (standard normals, one per draw, shared by every roster)."""
    if not calibration.active:
        return incremental
    factor = np.exp(calibration.shift + calibration.shift_sd * np.asarray(shift_noise, dtype=float))
    return incremental * (factor if incremental.ndim == 1 else factor[:, None])
