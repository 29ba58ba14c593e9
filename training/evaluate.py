"""Scoring fitted models on chosen rows of a prepared dataset, against observed values, a planner's hand
estimate (the tier x platform x niche median) and, for simulated data, the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from microlift.models import metrics
from microlift.models.candidates import offer_ratio
from microlift.models.economics import sales_scale
from microlift.training.prepare import Prepared, add_tier, group_median, held_out, lift_rows


def score_engagement(model, prep: Prepared, test: np.ndarray, reference: np.ndarray) -> tuple[dict, pd.DataFrame]:
    posts = prep.posts
    held = add_tier(posts[test])
    y = held["log_er"].to_numpy()
    predicted = model.predict(held)
    baseline = group_median(add_tier(posts[reference]), held, ["tier", "platform", "niche"], "log_er")
    m = {"engagement.r2": metrics.r2(y, np.log(predicted["p50"])), "engagement.r2_baseline": metrics.r2(y, baseline),
         "engagement.coverage_80": metrics.coverage(y, np.log(predicted["p10"]), np.log(predicted["p90"]))}
    truth = prep.truth.get("truth_posts")
    if truth is not None:
        expected = held["post_id"].map(truth.set_index("post_id")["expected_log_engagement_rate"])
        m["engagement.r2_truth"] = metrics.r2(y, expected.to_numpy(dtype=float))
    frame = held.assign(predicted=np.log(predicted["p50"]), low=np.log(predicted["p10"]),
                        high=np.log(predicted["p90"]), observed=y)
    return m, frame


def score_conversion(model, prep: Prepared, test: np.ndarray, reference: np.ndarray) -> tuple[dict, pd.DataFrame]:
    rows = prep.conversions
    held = add_tier(rows[test])
    y = held["conversions"].to_numpy(dtype=float)
    mu = model.predict_mean(held)
    # A planner's hand estimate of a count: the group's mean rate (its median is 0 and scores infinitely badly).
    baseline = group_median(add_tier(rows[reference]), held, ["tier", "platform", "niche"], "conversions", how="mean")
    m = {"conversion.poisson_deviance": metrics.poisson_deviance(y, mu),
         "conversion.poisson_deviance_baseline": metrics.poisson_deviance(y, baseline)}
    truth = prep.truth.get("truth_posts")
    if truth is not None and "expected_conversions" in truth.columns:
        expected = held["post_id"].map(truth.set_index("post_id")["expected_conversions"])
        m["conversion.poisson_deviance_truth"] = metrics.poisson_deviance(y, expected.to_numpy(dtype=float))
    return m, held.assign(predicted=mu, observed=y)


def campaign_post_predictions(prep: Prepared, engagement, conversion) -> pd.DataFrame:
    """Predicted engagements and attributed units of every campaign post (inputs of the lift model)."""
    made = prep.posts[prep.posts["campaign_id"].notna()]
    return made.assign(pred_engagements=engagement.predict(made)["mean"] * made["followers"].to_numpy(),
                       pred_conversions=conversion.predict_mean(made),
                       relevance=_relevance(conversion, made))


def _relevance(conversion, rows: pd.DataFrame) -> np.ndarray:
    """The conversion model's learned relevance of each row's creator niche for its campaign's niche."""
    out = np.ones(len(rows))
    products = rows["campaign_niche"].astype(str).to_numpy()
    for product in np.unique(products):
        m = products == product
        out[m] = conversion.relevance(rows["niche"].to_numpy()[m], product)
    return out


def lift_table(prep: Prepared, engagement, conversion) -> tuple[pd.DataFrame, np.ndarray]:
    """Lift rows and their target ln((units during + floor) / (baseline + floor)) (`economics.sales_scale`)."""
    rows = lift_rows(prep, campaign_post_predictions(prep, engagement, conversion))
    return rows, np.log(sales_scale(rows["units_per_month_during"].to_numpy(dtype=float))
                        / sales_scale(rows["baseline_units_per_month"].to_numpy(dtype=float)))


def score_lift(model, rows: pd.DataFrame, z: np.ndarray, prep: Prepared, test: np.ndarray,
               reference: np.ndarray) -> tuple[dict, pd.DataFrame]:
    held = rows[test].reset_index(drop=True)
    observed = (held["units_per_month_during"] - held["baseline_units_per_month"]).to_numpy()
    predicted = model.predict(held)
    train = rows[reference].assign(multiple=np.exp(z[reference]))
    hand = group_median(train, held, ["compensation", "marketplace"], "multiple")
    baseline = sales_scale(held["baseline_units_per_month"].to_numpy(dtype=float)) * (hand - 1)
    m = {"lift.coverage_80": metrics.coverage(observed, predicted["p10"], predicted["p90"]),
         "lift.mdape": metrics.mdape(observed, predicted["p50"]),
         "lift.mdape_baseline": metrics.mdape(observed, baseline)}
    truth = prep.truth.get("truth_campaigns")
    if truth is not None:
        expected = held["campaign_id"].map(truth.set_index("campaign_id")[
            "expected_incremental_units_per_month_given_posts"])
        m["lift.mdape_truth"] = metrics.mdape(observed, expected.to_numpy(dtype=float))
    frame = held.assign(predicted=predicted["p50"], low=predicted["p10"], high=predicted["p90"], observed=observed)
    return m, frame


def posting_rows(prep: Prepared, conversion) -> pd.DataFrame:
    """Invitation rows with the posting model's input `offer_ratio` (an affiliate's expected commission from the
    conversion model's units per post)."""
    rows = prep.invitations
    return rows.assign(offer_ratio=offer_ratio(rows, conversion.predict_mean(rows)))


def score_posting(model, rows: pd.DataFrame, test: np.ndarray, reference: np.ndarray) -> tuple[dict, pd.DataFrame]:
    """Log loss and Brier score against the way of paying x tier share (a planner's estimate), and calibration: the
    largest gap between predicted and observed posting rates over deciles of prediction."""
    held = add_tier(rows[test]).reset_index(drop=True)
    y = held["posted"].astype(bool).to_numpy(dtype=float)
    p = model.predict(held)
    hand = group_median(add_tier(rows[reference]).assign(rate=lambda f: f["posted"].astype(float)), held,
                        ["compensation", "tier"], "rate", how="mean")
    deciles = metrics.calibration_gaps(y, p)
    m = {"posting.log_loss": metrics.log_loss(y, p), "posting.log_loss_baseline": metrics.log_loss(y, hand),
         "posting.brier": float(np.mean((p - y) ** 2)), "posting.calibration_max_gap": float(np.max(np.abs(deciles))),
         "posting.rate": float(y.mean())}
    return m, held.assign(predicted=p, observed=y)


def evaluate(models: dict, prep: Prepared, held_out_only: bool = False) -> dict[str, float]:
    """Metrics of a set of models on a prepared dataset: all rows, or only the held-out groups."""
    out: dict[str, float] = {}
    posts = prep.posts
    test = held_out(posts["creator_id"]) if held_out_only else np.ones(len(posts), dtype=bool)
    if "engagement" in models:
        out.update(score_engagement(models["engagement"], prep, test, ~test if held_out_only else test)[0])
    rows = prep.conversions
    if "conversion" in models and len(rows):
        test = held_out(rows["creator_id"]) if held_out_only else np.ones(len(rows), dtype=bool)
        out.update(score_conversion(models["conversion"], prep, test, ~test if held_out_only else test)[0])
    if {"conversion", "posting"} <= models.keys() and prep.invitations is not None and len(prep.invitations):
        rows = posting_rows(prep, models["conversion"])
        test = held_out(rows["creator_id"]) if held_out_only else np.ones(len(rows), dtype=bool)
        out.update(score_posting(models["posting"], rows, test, ~test if held_out_only else test)[0])
    if {"engagement", "conversion", "lift"} <= models.keys() and prep.campaigns is not None:
        table, z = lift_table(prep, models["engagement"], models["conversion"])
        if len(table):
            test = held_out(table["campaign_id"]) if held_out_only else np.ones(len(table), dtype=bool)
            out.update(score_lift(models["lift"], table, z, prep, test, ~test if held_out_only else test)[0])
    return out
