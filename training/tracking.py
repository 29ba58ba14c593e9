"""MLflow: where runs go, what a training run logs, and how its models are registered."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.models import infer_signature

import microlift
import microlift.models
from microlift.models.datasets import Dataset
from microlift.models.features import RAW_INPUTS
from microlift.models.settings import Settings
from microlift.training import plots as charts

log = logging.getLogger(__name__)
MODELS_PACKAGE = Path(microlift.models.__file__).resolve().parent
PYFUNC_CODE = MODELS_PACKAGE / "pyfunc_model.py"


def configure(settings: Settings, experiment: str | None = None) -> str:
    """Point MLflow at the configured store and make sure the experiment exists; returns its id."""
    if settings.tracking_uri.startswith("sqlite:///") or settings.tracking_uri.startswith("file:"):
        settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)
    name = experiment or settings.experiment
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    local = not settings.tracking_uri.startswith(("http://", "https://", "databricks"))
    return mlflow.create_experiment(name, artifact_location=settings.artifact_root if local else None)


def project_run_tags() -> dict[str, str] | None:
    """Under `mlflow run`, MLflow hands us its own run (MLFLOW_RUN_ID) in whatever experiment the project ran in.
    We start our run in the experiment asked for instead, as a child of the project's run."""
    project_run = os.environ.pop("MLFLOW_RUN_ID", None)
    return {"mlflow.parentRunId": project_run} if project_run else None


def requirements() -> list[str]:
    """What a logged model needs to be served elsewhere, pinned to this environment. The `microlift.models`
    package itself travels with the model (`code_package`), so microlift need not be installed there."""
    return [f"{name}=={version(name)}" for name in
            ("mlflow", "lightgbm", "pandas", "numpy", "scipy", "scikit-learn", "pandera", "pyarrow")]


def code_package(folder: Path) -> Path:
    """A copy of the `microlift` package holding only `microlift.models` (the domain the model's code imports),
    logged as the model's code path: MLflow puts it on sys.path when it loads the model."""
    root = folder / "microlift"
    shutil.copytree(MODELS_PACKAGE, root / "models", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "__init__.py").write_text(f'"""microlift {microlift.__version__}: the domain package a logged model '
                                      'loads."""\n')
    return root


def fingerprint(dataset: Dataset) -> dict[str, str | int]:
    """sha256 over the dataset's files and their row counts, so a run says exactly what it was trained on."""
    digest = hashlib.sha256()
    for name in sorted(dataset.sources):
        path = dataset.sources[name]
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in (f for f in files if f.is_file()):
            digest.update(file.name.encode())
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    out: dict[str, str | int] = {"data.sha256": digest.hexdigest()}
    for name, frame in dataset.tables().items():
        out[f"data.rows.{name}"] = len(frame)
    return out


def _example(kind: str, evaluation: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in RAW_INPUTS[kind] if c in evaluation.columns]
    complete = evaluation[columns].dropna()
    example = (complete if len(complete) else evaluation[columns]).head(5).reset_index(drop=True)
    for column in example.columns:
        if example[column].dtype == "boolean":
            example[column] = example[column].astype(bool)
        elif pd.api.types.is_string_dtype(example[column]) or example[column].dtype == object:
            example[column] = example[column].astype(object)
        elif pd.api.types.is_integer_dtype(example[column]) or pd.api.types.is_float_dtype(example[column]):
            example[column] = example[column].astype("float64")
    return example


def log_models(trained, folder: Path) -> dict[str, str]:
    """Log each fitted model as an MLflow pyfunc (model from code + its text artifacts); returns model URIs."""
    uris = {}
    code = code_package(folder / "code")
    for kind, model in trained.models.items():
        path = model.save(folder / kind)
        example = _example(kind, trained.evaluation[kind])
        output = pd.DataFrame(model.predict(example))
        info = mlflow.pyfunc.log_model(name=kind, python_model=str(PYFUNC_CODE), artifacts={"model": str(path)},
                                       signature=infer_signature(example, output), input_example=example,
                                       pip_requirements=requirements(), code_paths=[str(code)])
        uris[kind] = info.model_uri
    return uris


def register(uris: dict[str, str], settings: Settings, run_id: str, metrics: dict[str, float]) -> dict[str, str]:
    """Create a registry version of each model, tagged with the run that made them (their version set)."""
    versions = {}
    for kind, uri in uris.items():
        tags = {"version_set": run_id, "kind": kind}
        tags.update({k: f"{v:.6g}" for k, v in metrics.items() if k.startswith(kind + ".")})
        version = mlflow.register_model(uri, settings.model_name(kind), tags=tags)
        versions[kind] = version.version
    return versions


def log_training(trained, dataset: Dataset, settings: Settings, params: dict, do_register: bool,
                 plots: bool = True, data_print: dict[str, str | int] | None = None) -> tuple[str, dict[str, str]]:
    """Everything a training run records (call inside an active run). Returns (run id, registered versions).
    `data_print` is the dataset's `fingerprint` when the caller has it already."""
    run = mlflow.active_run()
    mlflow.log_params(params)
    mlflow.log_params(data_print or fingerprint(dataset))
    mlflow.log_params({f"rows.{k}": v for k, v in trained.rows.items()})
    for kind, reason in trained.skipped.items():
        mlflow.set_tag(f"skipped.{kind}", reason)
    mlflow.log_metrics({k: float(v) for k, v in trained.metrics.items() if np.isfinite(v)})
    if plots:
        for name, figure in charts.training_figures(trained):
            mlflow.log_figure(figure, f"plots/{name}.png")
            charts.close(figure)
    with tempfile.TemporaryDirectory() as tmp:
        uris = log_models(trained, Path(tmp))
    versions = register(uris, settings, run.info.run_id, trained.metrics) if do_register else {}
    return run.info.run_id, versions


# --- a training run: Ctrl-C, and the same training done before ---------------------------------------------------

class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during a training: its run is marked KILLED and nothing it registered is left in the registry."""

    def __init__(self, run_id: str):
        super().__init__(f"run {run_id} marked KILLED; nothing was registered")
        self.run_id = run_id


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ctrl-C pressed again while a run is being closed would leave it RUNNING, or a version registered."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def unregister(run_id: str) -> None:
    """Delete every registry version made from the run (and a registered model left without versions)."""
    client = MlflowClient()
    for made in client.search_model_versions(f"run_id = '{run_id}'"):
        client.delete_model_version(made.name, made.version)
        if not client.search_model_versions(f"name = '{made.name}'"):
            client.delete_registered_model(made.name)


@contextmanager
def training_run(experiment_id: str, run_name: str) -> Iterator[mlflow.ActiveRun]:
    """`mlflow.start_run` for a training. Ctrl-C inside marks the run KILLED (MLflow alone would say FAILED),
    removes what it registered, then raises `TrainingInterrupted`."""
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=project_run_tags()) as run:
        try:
            yield run
        except KeyboardInterrupt:
            with _sigint_ignored():
                try:
                    unregister(run.info.run_id)
                finally:
                    mlflow.end_run(status="KILLED")
            raise TrainingInterrupted(run.info.run_id) from None


# Logged parameters that do not change what a training makes: where the data lies, whether it was registered,
# and the row counts (they follow from the data).
_NOT_IDENTITY = ("data", "register")
_DERIVED = ("rows.", "data.rows.")


def _identity(params: dict) -> dict[str, str]:
    """The parameters that decide a training's models, as MLflow stores them (strings)."""
    return {key: str(value) for key, value in params.items()
            if key not in _NOT_IDENTITY and not key.startswith(_DERIVED)}


@dataclass
class EarlierTraining:
    """A finished run of the same data and parameters, and the registry versions made from it."""

    run_id: str
    versions: dict[str, str] = field(default_factory=dict)  # registered model name -> version


def same_training(experiment_id: str, params: dict) -> EarlierTraining | None:
    """The newest finished run of the experiment with the same data fingerprint and parameters (`params` as a
    training logs them, `data.sha256` included), preferring one that was registered; None when there is none."""
    sha = params["data.sha256"]
    wanted = _identity(params)
    client = MlflowClient()
    runs: list[Run] = client.search_runs(
        [experiment_id], f"params.`data.sha256` = '{sha}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=50)
    matches = [EarlierTraining(run.info.run_id) for run in runs if _identity(run.data.params) == wanted]
    for match in matches:
        made = client.search_model_versions(f"run_id = '{match.run_id}'")
        match.versions = {version.name: str(version.version) for version in sorted(made, key=lambda v: v.name)}
        if match.versions:
            return match
    return matches[0] if matches else None
