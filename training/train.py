"""Train the engagement, conversion, posting and lift models from a contract dataset, scored on held-out groups."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from microlift.models.estimators import ConversionModel, EngagementModel, LiftModel, PostingModel
from microlift.training.evaluate import (
    lift_table,
    posting_rows,
    score_conversion,
    score_engagement,
    score_lift,
    score_posting,
)
from microlift.training.prepare import Prepared, held_out

log = logging.getLogger(__name__)


@dataclass
class Trained:
    """Fitted models (None when the data cannot train one), held-out metrics and the frames behind the plots."""

    models: dict[str, object] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    evaluation: dict[str, pd.DataFrame] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _bar(total: int, desc: str, progress: bool):
    return tqdm(total=total, desc=desc, unit="tree", disable=not progress, leave=False)


def _split(ids: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grouped split: 20% of groups held out for scoring, 10% of the rest for early stopping and intervals."""
    test = held_out(ids)
    calibration = held_out(ids, share=0.1, salt="calibration") & ~test
    return ~test & ~calibration, calibration, test


def _train_per_post(kind: str, model, rows: pd.DataFrame, target: str, scorer, prep: Prepared, progress: bool,
                    out: Trained) -> None:
    """Fit a per-post model on its training groups (early stopping and intervals on the calibration groups)
    and score it on the held-out groups."""
    fit, calibration, test = _split(rows["creator_id"])
    out.rows.update({f"{kind}.train": int(fit.sum()), f"{kind}.test": int(test.sum())})
    with _bar(model.rounds, kind, progress) as bar:
        model.fit(rows[fit], rows.loc[fit, target].to_numpy(),
                  (rows[calibration], rows.loc[calibration, target].to_numpy()), progress=bar)
    m, frame = scorer(model, prep, test, fit)
    out.models[kind], out.evaluation[kind] = model, frame
    out.metrics.update(m)


def train_engagement(prep: Prepared, params: dict | None, seed: int, progress: bool, out: Trained) -> None:
    _train_per_post("engagement", EngagementModel(params, seed=seed), prep.posts, "log_er", score_engagement, prep,
                    progress, out)


def train_conversion(prep: Prepared, params: dict | None, seed: int, progress: bool, out: Trained) -> None:
    if prep.conversions.empty:
        out.skipped["conversion"] = "no campaign posts with observed conversions in the data"
        return
    _train_per_post("conversion", ConversionModel(params, seed=seed), prep.conversions, "conversions",
                    score_conversion, prep, progress, out)


def train_lift(prep: Prepared, params: dict | None, seed: int, progress: bool, out: Trained) -> None:
    if "engagement" not in out.models or "conversion" not in out.models:
        out.skipped["lift"] = "the lift model needs the engagement and conversion models"
        return
    if prep.campaigns is None or prep.campaigns["units_per_month_during"].notna().sum() < 20:
        out.skipped["lift"] = "fewer than 20 campaigns with observed units_per_month_during"
        return
    rows, z = lift_table(prep, out.models["engagement"], out.models["conversion"])
    test = held_out(rows["campaign_id"])
    out.rows.update({"lift.train": int((~test).sum()), "lift.test": int(test.sum())})
    model = LiftModel(params, seed=seed)
    with _bar(model.rounds, "lift", progress) as bar:
        model.fit(rows[~test], z[~test], progress=bar)
    m, frame = score_lift(model, rows, z, prep, test, ~test)
    out.models["lift"], out.evaluation["lift"] = model, frame
    out.metrics.update(m)


def train_posting(prep: Prepared, params: dict | None, seed: int, progress: bool, out: Trained) -> None:
    if "conversion" not in out.models:
        out.skipped["posting"] = "the posting model needs the conversion model (an affiliate's expected commission)"
        return
    if prep.invitations is None or prep.invitations["posted"].nunique() < 2:
        out.skipped["posting"] = "no invitations table, or every invited creator posted (or none did)"
        return
    rows = posting_rows(prep, out.models["conversion"])
    fit, calibration, test = _split(rows["creator_id"])
    out.rows.update({"posting.train": int(fit.sum()), "posting.test": int(test.sum())})
    model = PostingModel(params, seed=seed)
    posted = rows["posted"].astype(bool).to_numpy()
    with _bar(model.rounds, "posting", progress) as bar:
        model.fit(rows[fit], posted[fit], (rows[calibration], posted[calibration]), progress=bar)
    m, frame = score_posting(model, rows, test, fit)
    out.models["posting"], out.evaluation["posting"] = model, frame
    out.metrics.update(m)


def train_all(prep: Prepared, params: dict[str, dict] | None = None, seed: int = 0,
              progress: bool = True) -> Trained:
    """Fit the four models in order (posting and lift need the conversion model) and score each on its held-out
    split."""
    params = params or {}
    out = Trained()
    for kind, step in (("engagement", train_engagement), ("conversion", train_conversion),
                       ("posting", train_posting), ("lift", train_lift)):
        log.info("training the %s model", kind)
        step(prep, params.get(kind), seed, progress, out)
        if kind in out.skipped:
            log.warning("%s model skipped: %s", kind, out.skipped[kind])
    return out
