"""Configuration, read from environment variables in this one place.

| variable | default | meaning |
|---|---|---|
| MICROLIFT_HOME | ~/.microlift | folder for local state (MLflow store and artifacts, catalog database, data) |
| MLFLOW_TRACKING_URI | sqlite:///$MICROLIFT_HOME/mlflow.db | MLflow tracking store (a server URL in production) |
| MLFLOW_REGISTRY_URI | the tracking URI | MLflow model registry |
| MICROLIFT_EXPERIMENT | microlift | MLflow experiment of training runs |
| MICROLIFT_MODEL_ALIAS | champion | registry alias that serving and `evaluate` load by default |
| MICROLIFT_MODEL_PREFIX | microlift | registered model names: PREFIX-engagement, PREFIX-conversion, PREFIX-lift |

The service reads more (`microlift.serving.settings`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODEL_KINDS = ("engagement", "conversion", "lift", "posting")
# Variables read by libraries that take no argument for them, set once per process by `process_environment`
# (a value the operator set wins): MLflow's download progress bar would fill the logs, idle OpenMP threads must
# not spin between requests, and BLAS takes one thread: its threads fought LightGBM's OpenMP threads and the
# service's request threads for the cores (bench/README: forecasts twice as slow under load).
LIBRARY_DEFAULTS = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "OMP_WAIT_POLICY": "PASSIVE",
                    "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_BLAS_SET = False


def process_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The one place microlift writes environment variables: LIBRARY_DEFAULTS where unset, plus `extra` (e.g. for
    a process about to exec). Returns the environment now in force."""
    for name, value in LIBRARY_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.update(extra or {})
    _limit_blas()
    return dict(os.environ)


def _limit_blas() -> None:
    """BLAS's threads as OPENBLAS_NUM_THREADS says, once per process: a library loaded before the variable was set
    (numpy, imported before this runs) is told through threadpoolctl. Never per call: switching OpenBLAS's thread
    count on every request halved the service's throughput (bench/README)."""
    global _BLAS_SET
    if _BLAS_SET:
        return
    _BLAS_SET = True
    from threadpoolctl import threadpool_limits

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "1")
    if threads.isdigit() and int(threads) > 0:
        threadpool_limits(limits=int(threads), user_api="blas")


@dataclass(frozen=True)
class Settings:
    home: Path
    tracking_uri: str
    registry_uri: str
    experiment: str
    model_alias: str
    model_prefix: str
    compiled_models: Path | None  # where compiled boosters are cached; None: LightGBM predicts

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
            compiled_models=_compiled(env.get("MICROLIFT_COMPILED_MODELS"), home),
        )

    @property
    def artifact_root(self) -> str:
        """Where local runs keep their artifacts (used when the experiment is created here)."""
        return (self.home / "mlartifacts").as_uri()

    def model_name(self, kind: str) -> str:
        return f"{self.model_prefix}-{kind}"


def _compiled(raw: str | None, home: Path) -> Path | None:
    """MICROLIFT_COMPILED_MODELS: unset for `home`/compiled, `off` to predict with LightGBM, or a folder."""
    if not raw:
        return home / "compiled"
    if raw.strip().lower() in ("off", "0", "false", "no"):
        return None
    return Path(raw).expanduser().resolve()


def read_int(env: Mapping[str, str], name: str, default: int, low: int = 1) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: got {raw!r}; expected a whole number") from None
    if value < low:
        raise ValueError(f"{name}: got {raw!r}; expected a whole number >= {low}")
    return value


def read_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: got {raw!r}; expected a number of seconds >= 0") from None
    if not value >= 0:
        raise ValueError(f"{name}: got {raw!r}; expected a number of seconds >= 0")
    return value
