"""Settings shared by every test module, applied before any of them imports LightGBM or MLflow."""

import os

# LightGBM trains with two OpenMP threads; on a busy two-core machine (CI runs `pytest -n 2`) OpenMP's default
# spin-waiting made each boosting round 10-80x slower. libgomp reads this once, when LightGBM loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Tests run offline: no usage telemetry from MLflow, here or in the MLflow processes the tests start.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
