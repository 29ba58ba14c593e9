"""MLflow "model from code" wrapper, so a registered microlift model also serves with `mlflow models serve`.

The wrapper reads the model folder (LightGBM text boosters + spec.json) that training logs as an artifact named
`model`; nothing is unpickled. Input: a frame of the raw columns listed in `models.features.RAW_INPUTS[kind]`.
Output: a frame with the model's mean (where it has one) and p10/p50/p90.
"""

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from microlift.models.estimators import MODELS, SPEC_FILE


class MicroliftModel(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        folder = Path(context.artifacts["model"])
        kind = json.loads((folder / SPEC_FILE).read_text())["kind"]
        self.model = MODELS[kind].load(folder)

    # Typed so MLflow knows the input is a frame: it then checks requests against the logged signature, as
    # before, instead of warning at every load that `predict` has no type hints.
    def predict(self, context: PythonModelContext | None, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        out = self.model.predict(pd.DataFrame(model_input))
        return pd.DataFrame(out if isinstance(out, dict) else {"probability": out})  # posting: one probability


mlflow.models.set_model(MicroliftModel())
