"""`microlift train` as a person at a terminal, a log file and a CI job see it: Ctrl-C, a training repeated on the
same data, and output without progress frames or library warnings when it goes to a pipe."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from microlift.cli import main
from microlift.models.settings import Settings
from microlift.training import pipeline, tracking

pytestmark = pytest.mark.slow
TRAINING_STARTED = "training the engagement model"  # logged inside the MLflow run


def store_env(home: Path) -> dict[str, str]:
    """Environment of a `microlift` process whose state (MLflow store included) lives in `home`."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_REGISTRY_URI", "MLFLOW_RUN_ID")}
    env.update(MICROLIFT_HOME=str(home), MLFLOW_TRACKING_URI=f"sqlite:///{home / 'mlflow.db'}")
    return env


def microlift(home: Path, *argv: str | Path) -> subprocess.CompletedProcess:
    """Run `microlift ARGV` in a process of its own, stdout and stderr to pipes (as under CI or `> log 2>&1`)."""
    return subprocess.run([sys.executable, "-m", "microlift", *map(str, argv)], env=store_env(home),
                          capture_output=True, text=True, timeout=600)


def client_of(home: Path) -> MlflowClient:
    uri = f"sqlite:///{home / 'mlflow.db'}"
    return MlflowClient(uri, uri)


def runs_in(home: Path) -> list:
    client = client_of(home)
    experiment = client.get_experiment_by_name("microlift")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])


def point_at(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """This process's `microlift` (and MLflow) on the store in `home`."""
    for name, value in store_env(home).items():
        if name.startswith(("MICROLIFT_", "MLFLOW_")):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


@dataclass(frozen=True)
class Piped:
    home: Path
    data: Path
    simulated: subprocess.CompletedProcess
    trained: subprocess.CompletedProcess

    @property
    def run_id(self) -> str:
        found = re.search(r"^run (\w+) in ", self.trained.stdout, re.MULTILINE)
        assert found, self.trained.stdout + self.trained.stderr[-3000:]
        return found.group(1)


@pytest.fixture(scope="module")
def piped(tmp_path_factory) -> Piped:
    """`simulate` then `train --register`, each in its own process with its output to pipes (no --quiet)."""
    tmp = tmp_path_factory.mktemp("piped")
    home, data = tmp / "home", tmp / "data"
    simulated = microlift(home, "simulate", "--creators", 300, "--campaigns", 25, "--seed", 1, "--out", data)
    assert simulated.returncode == 0, simulated.stderr[-3000:]
    trained = microlift(home, "train", "--data", data, "--register")
    assert trained.returncode == 0, trained.stderr[-3000:]
    return Piped(home, data, simulated, trained)


# --- output to a pipe --------------------------------------------------------------------------------------------

def test_piped_output_has_no_progress_frames_but_a_line_per_stage(piped):
    for done in (piped.simulated, piped.trained):
        assert "\r" not in done.stdout and "\r" not in done.stderr
    assert piped.simulated.stdout.startswith(f"wrote 8 tables to {piped.data}")
    stages = [kind for kind in ("engagement", "conversion", "posting", "lift")
              if f"training the {kind} model" in piped.trained.stderr]
    assert stages == ["engagement", "conversion", "posting", "lift"]


def test_training_logs_its_models_without_mlflows_type_hint_warning(piped):
    assert "registered: microlift-engagement v1" in piped.trained.stdout
    assert "type hints" not in piped.trained.stderr
    assert "Warning" not in piped.trained.stderr


# --- the same training again -------------------------------------------------------------------------------------

def test_a_rerun_on_the_same_data_and_parameters_names_the_run_and_versions_it_repeats(piped, monkeypatch, capsys):
    # given a store holding one registered training of the data (run by `piped`)
    point_at(monkeypatch, piped.home)
    capsys.readouterr()

    # when the same training runs again
    code = main(["train", "--data", str(piped.data), "--register", "--quiet"])
    out = capsys.readouterr().out

    # then it trains and registers anyway, and says which run and versions it repeats
    assert code == 0
    assert "registered: microlift-engagement v2" in out
    assert (f"same data and parameters as run {piped.run_id} (registered as microlift-conversion v1, "
            "microlift-engagement v1, microlift-lift v1, microlift-posting v1)") in out
    rerun = re.search(r"^run (\w+) in ", out, re.MULTILINE).group(1)
    assert rerun != piped.run_id

    # and only the fingerprint and the parameters that shape the models decide what is "the same"
    settings = Settings.from_env()
    experiment_id = tracking.configure(settings)
    logged = client_of(piped.home).get_run(rerun).data.params
    assert tracking.same_training(experiment_id, {**logged, "data": "/elsewhere", "register": "False"}).run_id == rerun
    assert tracking.same_training(experiment_id, {**logged, "seed": "1"}) is None
    assert tracking.same_training(experiment_id, {**logged, "engagement.num_leaves": "7"}) is None
    assert tracking.same_training(experiment_id, {**logged, "data.sha256": "0" * 64}) is None


# --- Ctrl-C ------------------------------------------------------------------------------------------------------

def test_ctrl_c_during_train_marks_the_run_killed_registers_nothing_and_exits_130(piped, tmp_path):
    # given a training under way in a process of its own (SIGINT handled as in a terminal, even if this test runs
    # where SIGINT is ignored, e.g. a background job)
    home = tmp_path / "home"
    process = subprocess.Popen([sys.executable, "-m", "microlift", "train", "--data", str(piped.data), "--register"],
                               env=store_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watchdog = threading.Timer(300, process.kill)
    watchdog.start()
    try:
        before = []
        for line in process.stderr:
            before.append(line)
            if TRAINING_STARTED in line:
                # when the user presses Ctrl-C
                process.send_signal(signal.SIGINT)
                break
        out, after = process.communicate(timeout=120)
    finally:
        watchdog.cancel()
    err = "".join(before) + after

    # then one line says what became of the run, without a traceback, and the exit code is 130
    assert TRAINING_STARTED in "".join(before), err[-3000:]
    assert process.returncode == 130, err[-3000:]
    assert out == ""
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if "interrupted" in line]
    assert said == [err.splitlines()[-1]]
    killed = runs_in(home)
    assert len(killed) == 1
    assert said[0] == f"interrupted: run {killed[0].info.run_id} marked KILLED; nothing was registered"
    # and the store agrees
    assert killed[0].info.status == "KILLED"
    assert client_of(home).search_model_versions("") == []


@pytest.fixture
def ctrl_c_raises():
    """Python's own Ctrl-C handler in place for the test (a library an earlier test ran in this process may have
    left another), and the one found put back after it."""
    found = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, found)


def test_ctrl_c_while_registering_removes_the_versions_already_made(piped, tmp_path, monkeypatch, capsys,
                                                                     ctrl_c_raises):
    # given a training whose Ctrl-C comes after its first two models were registered
    point_at(monkeypatch, tmp_path / "home")
    register = mlflow.register_model
    calls = []

    def register_then_ctrl_c(*args, **kwargs):
        calls.append(register(*args, **kwargs))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return calls[-1]

    monkeypatch.setattr(mlflow, "register_model", register_then_ctrl_c)
    capsys.readouterr()

    # when it is interrupted
    code = main(["train", "--data", str(piped.data), "--register", "--quiet"])
    captured = capsys.readouterr()

    # then the run is KILLED and no version (nor a registered model without versions) is left
    assert code == 130
    assert len(calls) == 2
    run = runs_in(tmp_path / "home")[0]
    assert captured.err.splitlines()[-1] == f"interrupted: run {run.info.run_id} marked KILLED; nothing was registered"
    assert "Traceback" not in captured.err
    assert run.info.status == "KILLED"
    assert client_of(tmp_path / "home").search_model_versions("") == []
    assert client_of(tmp_path / "home").search_registered_models() == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C works again afterwards


def test_ctrl_c_in_another_long_command_exits_130_with_one_line(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "simulate_dataset", interrupted)
    capsys.readouterr()
    code = main(["simulate", "--creators", "50", "--campaigns", "2", "--out", str(tmp_path / "data")])
    captured = capsys.readouterr()
    assert code == 130
    assert (captured.out, captured.err) == ("", "interrupted\n")
