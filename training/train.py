"""Train the engagement, conversion and lift models from a contract dataset, scored on grouped held-out data."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from models import metrics
from models.estimators import ConversionModel, EngagementModel, LiftModel
from training.prepare import Prepared, add_tier, group_median, held_out, lift_rows

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


def train_engagement(prep: Prepared, params: dict | None, seed: int, progress: bool, out: Trained) -> None:
    posts = prep.posts
    test = held_out(posts["creator_id"])
    calibration = held_out(posts["creator_id"], share=0.1, salt="calibration") & ~test
    fit = ~test & ~calibration
    out.rows.update({"engagement.train": int(fit.sum()), "engagement.test": int(test.sum())})
    model = EngagementModel(params, seed=seed)
    with _bar(model.rounds, "engagement", progress) as bar:
        model.fit(posts[fit], posts.loc[fit, "log_er"].to_numpy(),
                  (posts[calibration], posts.loc[calibration, "log_er"].to_numpy()), progress=bar)
    held = add_tier(posts[test])
    y = held["log_er"].to_numpy()
    predicted = model.predict(held)
    baseline = group_median(add_tier(posts[fit]), held, ["tier", "platform", "niche"], "log_er")
    m = {"engagement.r2": metrics.r2(y, np.log(predicted["p50"])), "engagement.r2_baseline": metrics.r2(y, baseline),
         "engagement.coverage_80": metrics.coverage(y, np.log(predicted["p10"]), np.log(predicted["p90"]))}
    truth = prep.truth.get("truth_posts")
    if truth is not None:
        expected = held["post_id"].map(truth.set_index("post_id")["expected_log_engagement_rate"])
        m["engagement.r2_truth"] = metrics.r2(y, expected.to_numpy(dtype=float))
    out.models["engagement"] = model
    out.metrics.update(m)
    out.evaluation["engagement"] = held.assign(predicted=np.log(predicted["p50"]), low=np.log(predicted["p10"]),
                                               high=np.log(predicted["p90"]), observed=y)


def train_conversion(prep: Prepared, params: dict | None, seed: int, progress: bool, out: Trained) -> None:
    rows = prep.conversions
    if rows.empty:
        out.skipped["conversion"] = "no campaign posts with observed conversions in the data"
        return
    test = held_out(rows["creator_id"])
    calibration = held_out(rows["creator_id"], share=0.1, salt="calibration") & ~test
    fit = ~test & ~calibration
    out.rows.update({"conversion.train": int(fit.sum()), "conversion.test": int(test.sum())})
    model = ConversionModel(params, seed=seed)
    with _bar(model.rounds, "conversion", progress) as bar:
        model.fit(rows[fit], rows.loc[fit, "conversions"].to_numpy(),
                  (rows[calibration], rows.loc[calibration, "conversions"].to_numpy()), progress=bar)
    held = add_tier(rows[test])
    y = held["conversions"].to_numpy(dtype=float)
    mu = model.predict_mean(held)
    # A planner's hand estimate of a count: the group's mean rate (its median is 0 and scores infinitely badly).
    baseline = group_median(add_tier(rows[fit]), held, ["tier", "platform", "niche"], "conversions", how="mean")
    m = {"conversion.poisson_deviance": metrics.poisson_deviance(y, mu),
         "conversion.poisson_deviance_baseline": metrics.poisson_deviance(y, baseline)}
    truth = prep.truth.get("truth_posts")
    if truth is not None and "expected_conversions" in truth.columns:
        expected = held["post_id"].map(truth.set_index("post_id")["expected_conversions"])
        m["conversion.poisson_deviance_truth"] = metrics.poisson_deviance(y, expected.to_numpy(dtype=float))
    out.models["conversion"] = model
    out.metrics.update(m)
    out.evaluation["conversion"] = held.assign(predicted=mu, observed=y)


def campaign_post_predictions(prep: Prepared, engagement: EngagementModel,
                              conversion: ConversionModel) -> pd.DataFrame:
    """Predicted engagements and attributed units of every campaign post (inputs of the lift model)."""
    made = prep.posts[prep.posts["campaign_id"].notna()]
    return made.assign(pred_engagements=engagement.predict(made)["mean"] * made["followers"].to_numpy(),
                       pred_conversions=conversion.predict_mean(made))


def train_lift(prep: Prepared, params: dict | None, seed: int, progress: bool, out: Trained) -> None:
    if "engagement" not in out.models or "conversion" not in out.models:
        out.skipped["lift"] = "the lift model needs the engagement and conversion models"
        return
    if prep.campaigns is None or prep.campaigns["units_per_month_during"].notna().sum() < 20:
        out.skipped["lift"] = "fewer than 20 campaigns with observed units_per_month_during"
        return
    rows = lift_rows(prep, campaign_post_predictions(prep, out.models["engagement"], out.models["conversion"]))
    test = held_out(rows["campaign_id"])
    out.rows.update({"lift.train": int((~test).sum()), "lift.test": int(test.sum())})
    z = np.log(rows["units_per_month_during"] / rows["baseline_units_per_month"]).to_numpy()
    model = LiftModel(params, seed=seed)
    with _bar(model.rounds, "lift", progress) as bar:
        model.fit(rows[~test], z[~test], progress=bar)
    held = rows[test].reset_index(drop=True)
    observed = (held["units_per_month_during"] - held["baseline_units_per_month"]).to_numpy()
    predicted = model.predict(held)
    train = rows[~test].assign(multiple=np.exp(z[~test]))
    hand = group_median(train, held, ["compensation", "marketplace"], "multiple")
    baseline = held["baseline_units_per_month"].to_numpy() * (hand - 1)
    m = {"lift.coverage_80": metrics.coverage(observed, predicted["p10"], predicted["p90"]),
         "lift.mdape": metrics.mdape(observed, predicted["p50"]),
         "lift.mdape_baseline": metrics.mdape(observed, baseline)}
    truth = prep.truth.get("truth_campaigns")
    if truth is not None:
        expected = held["campaign_id"].map(truth.set_index("campaign_id")[
            "expected_incremental_units_per_month_given_posts"])
        m["lift.mdape_truth"] = metrics.mdape(observed, expected.to_numpy(dtype=float))
    out.models["lift"] = model
    out.metrics.update(m)
    out.evaluation["lift"] = held.assign(predicted=predicted["p50"], low=predicted["p10"], high=predicted["p90"],
                                         observed=observed)


def train_all(prep: Prepared, params: dict[str, dict] | None = None, seed: int = 0,
              progress: bool = True) -> Trained:
    """Fit the three models in order (lift needs the other two) and score each on its held-out split."""
    params = params or {}
    out = Trained()
    for kind, step in (("engagement", train_engagement), ("conversion", train_conversion), ("lift", train_lift)):
        log.info("training the %s model", kind)
        step(prep, params.get(kind), seed, progress, out)
        if kind in out.skipped:
            log.warning("%s model skipped: %s", kind, out.skipped[kind])
    return out
