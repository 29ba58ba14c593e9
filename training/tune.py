"""Hyperparameter search with Optuna: one nested MLflow run per trial, scored on a validation split of the
training groups (the held-out test groups stay untouched)."""

from __future__ import annotations

import logging

import mlflow
import numpy as np

from microlift.models import metrics
from microlift.models.estimators import ConversionModel, EngagementModel, LiftModel, PostingModel
from microlift.models.extras import need
from microlift.models.settings import Settings
from microlift.training.evaluate import lift_table, posting_rows
from microlift.training.prepare import Prepared, held_out
from microlift.training.tracking import configure, project_run_tags

optuna = need("tune", "optuna")

log = logging.getLogger(__name__)


def _space(trial: optuna.Trial, kind: str) -> dict:
    leaves = (4, 15) if kind == "lift" else (15, 127)
    return {"learning_rate": trial.suggest_float("learning_rate", 0.02, 0.15, log=True),
            "num_leaves": trial.suggest_int("num_leaves", *leaves),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 5 if kind == "lift" else 20, 400, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True)}


def _splits(ids):
    train = ~held_out(ids)
    valid = train & held_out(ids, share=0.2, salt="tune")
    calibration = train & ~valid & held_out(ids, share=0.1, salt="calibration")
    return train & ~valid & ~calibration, calibration, valid


def _objective(prep: Prepared, kind: str, seed: int):
    """A function of the trial's parameters returning (score to maximise, metric name, metric value)."""
    if kind == "engagement":
        rows, target = prep.posts, prep.posts["log_er"].to_numpy()
    else:
        rows, target = prep.conversions, prep.conversions["conversions"].to_numpy(dtype=float)
    if kind == "lift":
        fit, cal, _ = _splits(prep.posts["creator_id"])
        engagement = EngagementModel(seed=seed).fit(prep.posts[fit], prep.posts["log_er"].to_numpy()[fit],
                                                    (prep.posts[cal], prep.posts["log_er"].to_numpy()[cal]))
        fit, cal, _ = _splits(rows["creator_id"])
        conversion = ConversionModel(seed=seed).fit(rows[fit], target[fit], (rows[cal], target[cal]))
        table, z = lift_table(prep, engagement, conversion)
        train = ~held_out(table["campaign_id"])
        valid = train & held_out(table["campaign_id"], share=0.2, salt="tune")
        observed = (table["units_per_month_during"] - table["baseline_units_per_month"]).to_numpy()

        def score_lift(params):
            model = LiftModel(params, seed=seed).fit(table[train & ~valid], z[train & ~valid])
            value = metrics.mdape(observed[valid], model.predict(table[valid])["p50"])
            return -value, "lift.mdape", value
        return score_lift
    if kind == "posting":
        fit, cal, _ = _splits(rows["creator_id"])
        conversion = ConversionModel(seed=seed).fit(rows[fit], target[fit], (rows[cal], target[cal]))
        invited = posting_rows(prep, conversion)
        posted = invited["posted"].astype(bool).to_numpy(dtype=float)
        fit, cal, valid = _splits(invited["creator_id"])

        def score_posting(params):
            model = PostingModel(params, seed=seed).fit(invited[fit], posted[fit], (invited[cal], posted[cal]))
            value = metrics.log_loss(posted[valid], model.predict(invited[valid]))
            return -value, "posting.log_loss", value
        return score_posting
    fit, cal, valid = _splits(rows["creator_id"])
    model_class = EngagementModel if kind == "engagement" else ConversionModel

    def score(params):
        model = model_class(params, seed=seed).fit(rows[fit], target[fit], (rows[cal], target[cal]))
        if kind == "engagement":
            value = metrics.r2(target[valid], model.predict_log(rows[valid]))
            return value, "engagement.r2", value
        value = metrics.poisson_deviance(target[valid], model.predict_mean(rows[valid]))
        return -value, "conversion.poisson_deviance", value
    return score


def tune(prep: Prepared, settings: Settings, kind: str, trials: int, experiment: str | None = None,
         seed: int = 0) -> dict:
    """Run the search; returns the best parameters (also logged on the parent run)."""
    if trials < 1:
        raise ValueError(f"--trials must be at least 1, got {trials}")
    if kind != "engagement" and prep.conversions.empty:
        raise ValueError(f"tuning the {kind} model needs campaign posts with conversions")
    if kind == "posting" and (prep.invitations is None or prep.invitations["posted"].nunique() < 2):
        raise ValueError("tuning the posting model needs an invitations table where some invited creators posted "
                         "and some did not")
    experiment_id = configure(settings, experiment)
    score = _objective(prep, kind, seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"tune {kind}", tags=project_run_tags()):
        mlflow.log_params({"model": kind, "trials": trials, "seed": seed})

        def objective(trial: optuna.Trial) -> float:
            params = _space(trial, kind)
            with mlflow.start_run(experiment_id=experiment_id, run_name=f"trial {trial.number}", nested=True):
                mlflow.log_params(params)
                value, name, metric = score(params)
                mlflow.log_metric(name, metric)
            log.info("trial %d: %s = %.4f", trial.number, name, metric)
            return value

        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=trials)
        mlflow.log_params({f"best.{k}": v for k, v in study.best_params.items()})
        mlflow.log_metric("best_score", float(np.abs(study.best_value)))
    return study.best_params
