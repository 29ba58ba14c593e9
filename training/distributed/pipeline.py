"""Training on a Dask cluster, as a function: the `dask` engine of `microlift train`."""

from __future__ import annotations

import time
from pathlib import Path

from microlift.models.settings import Settings
from microlift.training.distributed.cluster import connect
from microlift.training.distributed.data import load_partitioned
from microlift.training.distributed.train import train_all
from microlift.training.pipeline import TrainingRun
from microlift.training.tracking import configure, log_training, training_run


def train_models(data: Path, settings: Settings, scheduler: str | None = None, workers: int = 2,
                 experiment: str | None = None, params: dict | None = None, seed: int = 0, register: bool = False,
                 progress: bool = True) -> TrainingRun:
    """Fit the engagement and conversion models with LightGBM's Dask estimators on partitioned data (and the
    posting and lift models in process), log the run to MLflow and, if asked, register the models."""
    params = params or {}
    frames = load_partitioned(data)  # creators, campaigns and invitations are checked here; posts as they are read
    experiment_id = configure(settings, experiment)
    started = time.perf_counter()
    # Ctrl-C marks the run KILLED and removes what it registered, as in process (`tracking.training_run`)
    with connect(scheduler, workers=workers) as client, training_run(experiment_id, f"train {Path(data).name}"):
        trained = train_all(client, frames, params, seed=seed, progress=progress)
        run_params = {"data": str(Path(data).resolve()), "seed": seed, "register": register,
                      **{f"{k}.{p}": v for k, kp in params.items() for p, v in kp.items()},
                      "engine": "dask", "dask.workers": len(client.scheduler_info().get("workers", {})),
                      **{f"dask.rounds.{k}": v for k, v in trained.rounds.items()}}
        run_id, versions = log_training(trained, frames.dataset(), settings, run_params, register)
    return TrainingRun(run_id, versions, trained, time.perf_counter() - started)
