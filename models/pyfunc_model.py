"""MLflow "model from code" wrapper, so a registered microlift model also serves with `mlflow models serve`.

The wrapper reads the model folder (LightGBM text boosters + spec.json) that training logs as an artifact named
`model`; nothing is unpickled. Input: a frame of the raw columns listed in `models.features.RAW_INPUTS[kind]`.
Output: a frame with the model's mean (where it has one) and p10/p50/p90.
"""

import json
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from microlift.models.estimators import MODELS, SPEC_FILE


class MicroliftModel(PythonModel):
    def load_context(self, context):
        folder = Path(context.artifacts["model"])
        kind = json.loads((folder / SPEC_FILE).read_text())["kind"]
        self.model = MODELS[kind].load(folder)

    def predict(self, context, model_input, params=None):
        out = self.model.predict(pd.DataFrame(model_input))
        return pd.DataFrame(out if isinstance(out, dict) else {"probability": out})  # posting: one probability


mlflow.models.set_model(MicroliftModel())
