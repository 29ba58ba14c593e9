"""Engagement and conversion models fitted with LightGBM's Dask estimators, into the very artifacts single-machine
training makes (`models.estimators`): same features, objective, offset, grouped split, early stopping rule and
interval terms; the posting model (one row per invitation) and the lift model (one row per campaign) are then
trained in process by `training.train.train_posting` and `training.train.train_lift`.

LightGBM's Dask interface cannot stop early (workers would stop at different rounds), so the booster grows all its
rounds and is cut where `lightgbm.early_stopping` would have stopped it: the calibration rows' loss after each
round is summed over partitions and the same rule (no improvement for PATIENCE rounds) picks the best round.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from microlift.models import features as F
from microlift.models import metrics
from microlift.models.estimators import BASE_PARAMS, ConversionModel, EngagementModel
from microlift.models.extras import need
from microlift.training.distributed.data import (
    CALIBRATION,
    FIT,
    TEST,
    Partitioned,
    conversion_rows,
    creator_sums,
    model_frame,
    prepared,
    prepared_invitations,
)
from microlift.training.evaluate import score_conversion
from microlift.training.prepare import Prepared, add_tier
from microlift.training.train import Trained, train_lift, train_posting

dask = need("dask", "dask")
dd = need("dask", "dask.dataframe")

log = logging.getLogger(__name__)
PATIENCE = 40            # lightgbm.early_stopping(40), as in models.estimators
EVALUATION_ROWS = 200_000  # held-out rows kept for plots and the signature example (metrics use every row)


@dataclass
class Fitted:
    booster: lgb.Booster
    best_iteration: int
    rounds: int


def _columns(kind: str) -> list[str]:
    return [f"x{j}" for j in range(len(F.feature_names(kind)))]


def _lgb_params(model) -> dict:
    params = {**BASE_PARAMS, **model._params(model.defaults)}
    for thread_alias in ("num_threads", "n_jobs", "nthread", "num_thread"):  # Dask gives each worker its threads
        params.pop(thread_alias, None)
    return params


def fit_booster(client, model, frame: dd.DataFrame, init: str | None = None) -> Fitted:
    """Fit on the FIT rows of a model frame with `lightgbm.DaskLGBMRegressor`, then cut at the early-stopping
    round chosen on the CALIBRATION rows."""
    kind = model.kind
    names, columns = F.feature_names(kind), _columns(kind)
    fit = frame[frame["split"] == FIT]
    X, y = fit[columns].to_dask_array(lengths=True), fit["y"].to_dask_array(lengths=True)
    init_score = fit[init].to_dask_array(lengths=True) if init else None
    estimator = lgb.DaskLGBMRegressor(client=client, n_estimators=model.rounds, **_lgb_params(model))
    with warnings.catch_warnings():  # LightGBM's Dask layer sets each worker's threads itself and says so
        warnings.filterwarnings("ignore", message="Parameter .* will be ignored")
        estimator.fit(X, y, init_score=init_score, feature_name=names,
                      categorical_feature=F.categorical_names(kind))
    booster = estimator.booster_
    calibration = frame[frame["split"] == CALIBRATION]
    poisson = _lgb_params(model)["objective"] == "poisson"
    shared = dask.delayed(booster, pure=True)  # one copy in the graph, not one per partition
    sums = [dask.delayed(_loss_by_round)(part, shared, columns, init, poisson) for part in calibration.to_delayed()]
    curve = np.sum(dask.compute(*sums), axis=0)
    best = best_iteration(curve)
    log.info("%s: %d rounds grown on Dask, cut at round %d", kind, booster.num_trees(), best)
    return Fitted(lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best, booster.num_trees())


def _loss_by_round(part: pd.DataFrame, booster: lgb.Booster, columns: list[str], init: str | None,
                   poisson: bool) -> np.ndarray:
    """Summed validation loss of one partition after each round (LightGBM's l2, or its poisson metric)."""
    rounds = booster.num_trees()
    out = np.zeros(rounds)
    if part.empty:
        return out
    X, y = part[columns].to_numpy(), part["y"].to_numpy()
    score = part[init].to_numpy(dtype=float) if init else np.zeros(len(part))
    for k in range(rounds):
        score = score + booster.predict(X, raw_score=True, start_iteration=k, num_iteration=1)
        if poisson:
            mu = np.maximum(np.exp(score), 1e-10)
            out[k] = np.sum(mu - y * np.log(mu))
        else:
            out[k] = np.sum((score - y) ** 2)
    return out


def best_iteration(curve: np.ndarray, patience: int = PATIENCE) -> int:
    """The round (1-based) `lightgbm.early_stopping(patience)` keeps for this validation curve (lower is better)."""
    best = 0
    for i, value in enumerate(curve):
        if value < curve[best]:
            best = i
        elif i - best >= patience:
            break
    return best + 1


def _gather(frame: dd.DataFrame, function, *args) -> list:
    shared = [dask.delayed(arg, pure=True) for arg in args]  # one copy of each in the graph
    return list(dask.compute(*[dask.delayed(function)(part, *shared) for part in frame.to_delayed()]))


def _residuals(part: pd.DataFrame, booster: lgb.Booster, columns: list[str]) -> np.ndarray:
    return part["y"].to_numpy() - booster.predict(part[columns].to_numpy()) if len(part) else np.empty(0)


@dataclass
class TrainedOnDask(Trained):
    """`training.train.Trained`, plus the round each Dask-grown booster was cut at."""

    rounds: dict[str, int] = field(default_factory=dict)


def train_engagement(client, rows: dd.DataFrame, params: dict | None, seed: int, out: TrainedOnDask,
                     truth_posts: dd.DataFrame | None) -> None:
    model = EngagementModel(params, seed=seed)
    frame = rows.map_partitions(model_frame, "engagement", "log_er").persist()
    fitted = fit_booster(client, model, frame)
    model.features_, model.booster_ = F.feature_names("engagement"), fitted.booster
    calibration = frame[frame["split"] == CALIBRATION]
    # EngagementModel.fit's interval terms, from the calibration rows' residuals
    residual = np.concatenate(_gather(calibration, _residuals, fitted.booster, _columns("engagement")))
    tail = (1 - 0.8) / 2
    model.coverage_ = 0.8
    model.residual_low_, model.residual_high_ = (float(q) for q in np.quantile(residual, [tail, 1 - tail]))
    model.smearing_ = float(np.mean(np.exp(residual)))
    counts = frame["split"].value_counts().compute()
    out.rows.update({"engagement.train": int(counts.get(FIT, 0)), "engagement.test": int(counts.get(TEST, 0))})
    out.rounds["engagement"] = fitted.best_iteration
    metrics_, evaluation = score_engagement(model, rows, truth_posts)
    out.models["engagement"], out.evaluation["engagement"] = model, evaluation
    out.metrics.update(metrics_)
    del frame


def _engagement_held(part: pd.DataFrame, model: EngagementModel) -> pd.DataFrame:
    held = add_tier(part[part["split"] == TEST])
    predicted = model.predict(held) if len(held) else {q: np.empty(0) for q in ("p10", "p50", "p90")}
    return held.assign(predicted=np.log(predicted["p50"]), low=np.log(predicted["p10"]),
                       high=np.log(predicted["p90"]), observed=held["log_er"].to_numpy())


def score_engagement(model: EngagementModel, rows: dd.DataFrame,
                     truth_posts: dd.DataFrame | None) -> tuple[dict, pd.DataFrame]:
    """`training.evaluate.score_engagement` over every held-out row, with only a few columns per row gathered."""
    keys = ["tier", "platform", "niche"]
    meta = _engagement_held(rows._meta.assign(), model)
    held = rows.map_partitions(_engagement_held, dask.delayed(model, pure=True), meta=meta).persist()
    compact = held[["post_id", *keys, "observed", "predicted", "low", "high"]]
    if truth_posts is not None and "expected_log_engagement_rate" in truth_posts.columns:
        truth = truth_posts[["post_id", "expected_log_engagement_rate"]]
        truth = truth.astype({"post_id": compact["post_id"].dtype})
        compact = compact.merge(truth, on="post_id", how="left")
    fit = rows[rows["split"] == FIT].map_partitions(add_tier)
    # the fallback for groups the training rows lack is their exact median: one float per row is gathered
    table, observed, compact, n = dask.compute(fit.groupby(keys)["log_er"].median(), fit["log_er"], compact,
                                               held.shape[0])
    fallback = float(np.median(observed.to_numpy(dtype=float)))
    baseline = table.reindex(pd.MultiIndex.from_frame(compact[keys])).fillna(fallback).to_numpy(float)
    y = compact["observed"].to_numpy()
    m = {"engagement.r2": metrics.r2(y, compact["predicted"]), "engagement.r2_baseline": metrics.r2(y, baseline),
         "engagement.coverage_80": metrics.coverage(y, compact["low"], compact["high"])}
    if "expected_log_engagement_rate" in compact.columns:
        m["engagement.r2_truth"] = metrics.r2(y, compact["expected_log_engagement_rate"].to_numpy(dtype=float))
    share = min(1.0, EVALUATION_ROWS / max(int(n), 1))
    evaluation = (held if share >= 1 else held.sample(frac=share, random_state=0)).compute()
    return m, evaluation.reset_index(drop=True)


def _with_offset(part: pd.DataFrame, model: ConversionModel) -> pd.DataFrame:
    X = part[[f"x{j}" for j in range(len(model.features_))]].to_numpy(dtype=float)
    return part.assign(init=model.offset_of(X, part["followers"].to_numpy(dtype=float)))


def train_conversion(client, rows: dd.DataFrame, params: dict | None, seed: int, out: TrainedOnDask,
                     prep: Prepared) -> None:
    """Poisson from the log-linear base rate as init_score, as `ConversionModel.fit`. The base rate is fitted in
    process on the gathered campaign posts' training rows (`prep.conversions`: one row per campaign post, few),
    the booster on Dask; scored in process with `training.evaluate.score_conversion`."""
    model = ConversionModel(params, seed=seed)
    conversions = prep.conversions
    split = conversions["split"].to_numpy()
    model.fit_base(conversions[split == FIT], conversions.loc[split == FIT, "conversions"].to_numpy(dtype=float))
    frame = rows.map_partitions(conversion_rows).map_partitions(model_frame, "conversion", "conversions")
    frame = frame.map_partitions(_with_offset, dask.delayed(model, pure=True),
                                 meta=frame._meta.assign(init=np.zeros(0))).persist()
    fitted = fit_booster(client, model, frame, init="init")
    model.booster_ = fitted.booster
    # the rest of ConversionModel.fit: niche pairs, dispersion and relevance
    training, calibration = conversions[split == FIT], conversions[split == CALIBRATION]
    model.finish(training, training["conversions"].to_numpy(dtype=float),
                 (calibration, calibration["conversions"].to_numpy(dtype=float)))
    out.rows.update({"conversion.train": int((split == FIT).sum()), "conversion.test": int((split == TEST).sum())})
    out.rounds["conversion"] = fitted.best_iteration
    m, evaluation = score_conversion(model, prep, split == TEST, split == FIT)
    out.models["conversion"], out.evaluation["conversion"] = model, evaluation
    out.metrics.update(m)


def _posts_in(frame: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    return frame[frame["post_id"].astype(str).isin(ids)]


def train_all(client, data: Partitioned, params: dict[str, dict] | None = None, seed: int = 0,
              progress: bool = True) -> TrainedOnDask:
    """The four models, as `training.train.train_all` makes them, with the per-post models fitted on Dask."""
    params = params or {}
    out = TrainedOnDask()
    history, track = creator_sums(data.posts, data.creators)
    rows = prepared(data, (history, track)).persist()
    log.info("training the engagement model on %d partition(s)", rows.npartitions)
    train_engagement(client, rows, params.get("engagement"), seed, out, data.truth_posts)
    # Campaign posts and invitations are few (one row per post made for a campaign, per invited creator): gathered
    # for the conversion scores and the posting and lift models' rows, which single-machine code then handles
    # unchanged.
    made = rows[rows["campaign_id"].notnull()].compute().reset_index(drop=True)
    truth = dict(data.truth)
    if data.truth_posts is not None and len(made):
        ids = dask.delayed(pd.Index(made["post_id"].astype(str)), pure=True)
        truth["truth_posts"] = data.truth_posts.map_partitions(_posts_in, ids, meta=data.truth_posts._meta) \
            .compute().reset_index(drop=True)
    prep = Prepared(made, conversion_rows(made).reset_index(drop=True), data.campaigns, truth,
                    prepared_invitations(data, history, track))
    if prep.conversions.empty:
        out.skipped["conversion"] = "no campaign posts with observed conversions in the data"
    else:
        log.info("training the conversion model")
        train_conversion(client, rows, params.get("conversion"), seed, out, prep)
    log.info("training the posting model in process")
    train_posting(prep, params.get("posting"), seed, progress, out)
    log.info("training the lift model in process")
    train_lift(prep, params.get("lift"), seed, progress, out)
    for kind, reason in out.skipped.items():
        log.warning("%s model skipped: %s", kind, reason)
    return out
