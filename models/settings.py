"""Configuration, read from environment variables in this one place.

| variable | default | meaning |
|---|---|---|
| MICROLIFT_HOME | ~/.microlift | folder for local state (MLflow store and artifacts, catalog database, data) |
| MLFLOW_TRACKING_URI | sqlite:///$MICROLIFT_HOME/mlflow.db | MLflow tracking store (a server URL in production) |
| MLFLOW_REGISTRY_URI | the tracking URI | MLflow model registry |
| MICROLIFT_EXPERIMENT | microlift | MLflow experiment of training runs |
| MICROLIFT_MODEL_ALIAS | champion | registry alias that serving and `evaluate` load by default |
| MICROLIFT_MODEL_PREFIX | microlift | registered model names: PREFIX-engagement, PREFIX-conversion, PREFIX-lift |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODEL_KINDS = ("engagement", "conversion", "lift")


@dataclass(frozen=True)
class Settings:
    home: Path
    tracking_uri: str
    registry_uri: str
    experiment: str
    model_alias: str
    model_prefix: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("MICROLIFT_HOME") or Path.home() / ".microlift").expanduser().resolve()
        tracking = env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}"
        return cls(
            home=home,
            tracking_uri=tracking,
            registry_uri=env.get("MLFLOW_REGISTRY_URI") or tracking,
            experiment=env.get("MICROLIFT_EXPERIMENT") or "microlift",
            model_alias=env.get("MICROLIFT_MODEL_ALIAS") or "champion",
            model_prefix=env.get("MICROLIFT_MODEL_PREFIX") or "microlift",
        )

    @property
    def artifact_root(self) -> str:
        """Where local runs keep their artifacts (used when the experiment is created here)."""
        return (self.home / "mlartifacts").as_uri()

    def model_name(self, kind: str) -> str:
        return f"{self.model_prefix}-{kind}"
