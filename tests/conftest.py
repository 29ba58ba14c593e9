"""Settings shared by every test module, applied before any of them imports LightGBM or MLflow."""

import os

# LightGBM trains with two OpenMP threads; on a busy two-core machine (CI runs `pytest -n 2`) OpenMP's default
# spin-waiting made each boosting round 10-80x slower. libgomp reads this once, when LightGBM loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Tests run offline: no usage telemetry from MLflow, here or in the MLflow processes the tests start.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


import sys  # noqa: E402

import pytest  # noqa: E402

_MLFLOW_URIS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def _mlflow_uris_stay_put():
    """mlflow.set_tracking_uri copies the URI into os.environ; a test that points MLflow somewhere (directly or
    through the service) must not move the next test's store."""
    saved = {name: os.environ.get(name) for name in _MLFLOW_URIS}
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under `--dist loadgroup`, pytest-xdist sends a group's tests (`xdist_group`) to one worker by suffixing their
    node ids; where a pytest release stores node ids in a way it cannot write, the marks silently do nothing and a
    slow module's setup runs on every worker. Stop instead."""
    if not getattr(config.option, "loadgroup", False):
        return
    lost = [item.nodeid for item in items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        message = (f"pytest-xdist's loadgroup did not take on {len(lost)} tests (e.g. {lost[0]}): this pytest and "
                   "pytest-xdist do not work together; install the versions in requirements.lock")
        print(message, file=sys.__stderr__, flush=True)  # a worker's own error reaches the terminal only as a traceback
        raise pytest.UsageError(message)
