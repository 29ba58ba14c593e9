"""Training tracked in a real MLflow store, through the `microlift` command line: what a run records, what the
registry holds, promotion, crashes, tuning, the real-data adapter, and the same flow against an MLflow server,
PostgreSQL, `mlflow run` and `mlflow models serve`."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import Model

from microlift.cli import main
from microlift.models import plausible
from microlift.models.datasets import load_dataset, write_tables
from microlift.models.settings import MODEL_KINDS, Settings
from microlift.training import tracking
from microlift.training.simulation.generator import simulate
from tests.service_support import background, free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv's bin: mlflow, and python for `mlflow run`
KIM = Path(__file__).resolve().parents[3] / "shared" / "data" / "external" / "kim_instagram_influencers"
URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
METRIC_KEYS = {
    "engagement.r2", "engagement.r2_baseline", "engagement.r2_truth",
    "conversion.poisson_deviance", "conversion.poisson_deviance_baseline", "conversion.poisson_deviance_truth",
    "lift.coverage_80", "lift.mdape", "lift.mdape_baseline", "lift.mdape_truth",
}
PLOTS = {
    "engagement_feature_importance", "conversion_feature_importance", "lift_feature_importance",
    "interval_calibration", "engagement_predicted_vs_actual", "conversion_predicted_vs_actual",
    "lift_predicted_vs_actual", "engagement_residuals_by_tier_platform",
}
# Clearly worse than the defaults: two-leaf trees learning slowly.
WORSE_PARAMS = json.dumps({kind: {"num_leaves": 2, "learning_rate": 0.01} for kind in MODEL_KINDS})


# --- MLflow pointed at a store of the test's own -----------------------------------------------------------------

def forget_mlflow_uris() -> None:
    """Drop MLflow's process-wide tracking and registry URIs (MLflow also copies them into os.environ)."""
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def point_at(mp: pytest.MonkeyPatch, home: Path, tracking_uri: str | None = None) -> Settings:
    """Environment of a microlift whose state lives in `home`; MLflow URIs only when given."""
    mp.setenv("MICROLIFT_HOME", str(home))
    for name in URI_VARIABLES:
        mp.setenv(name, "")  # remembers the value from before, which teardown restores ...
        mp.delenv(name)  # ... and MLflow itself sets these variables whenever a URI is set in-process
    if tracking_uri is not None:
        mp.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    forget_mlflow_uris()
    return Settings.from_env()


@pytest.fixture(autouse=True)
def microlift_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own MICROLIFT_HOME, hence its own MLflow store, and no inherited MLflow URIs."""
    home = tmp_path / "microlift-home"
    point_at(monkeypatch, home)
    yield home
    forget_mlflow_uris()


def mlflow_client(settings: Settings) -> MlflowClient:
    """A client of the settings' store; also points the process-wide MLflow (for models:/ URIs) at it."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)
    return MlflowClient(settings.tracking_uri, settings.registry_uri)


def runs_of(client: MlflowClient, experiment: str = "microlift") -> list:
    """Runs of an experiment, newest first; none when the experiment does not exist."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])


def champion_versions(client: MlflowClient, settings: Settings) -> dict[str, str]:
    """The version of each model holding the serving alias (kinds without it are left out)."""
    held = {}
    for kind in MODEL_KINDS:
        aliases = client.get_registered_model(settings.model_name(kind)).aliases
        if settings.model_alias in aliases:
            held[kind] = str(aliases[settings.model_alias])
    return held


def set_champion(client: MlflowClient, settings: Settings, version: str | None) -> None:
    """Arrange the serving alias on one version of every model, or on none."""
    for kind in MODEL_KINDS:
        name = settings.model_name(kind)
        if version is None:
            if settings.model_alias in client.get_registered_model(name).aliases:
                client.delete_registered_model_alias(name, settings.model_alias)
        else:
            client.set_registered_model_alias(name, settings.model_alias, version)


def download_model(settings: Settings, kind: str, version: str, dst: Path) -> Path:
    mlflow_client(settings)
    uri = f"models:/{settings.model_name(kind)}/{version}"
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))


def cli(capsys, *argv: str | Path) -> tuple[int, str, str]:
    """Run `microlift ARGV` in this process; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_quietly(*argv: str | Path) -> tuple[int, str, str]:
    """Run `microlift ARGV` where capsys is not available (module fixtures); returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue(), err.getvalue()


def run_id_in(output: str) -> str:
    found = re.search(r"^run (\w+) in ", output, re.MULTILINE)
    assert found, f"no run id in the output of train:\n{output}"
    return found.group(1)


# --- shared, expensive setup: a dataset, and stores trained once per module --------------------------------------

@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A simulated dataset big enough for all three models (the lift model needs 20 campaigns with sales)."""
    out = tmp_path_factory.mktemp("simulated")
    write_tables(simulate(1500, 40, seed=2, progress=False), out, fmt="parquet")
    return out


@dataclass(frozen=True)
class TrainedStore:
    settings: Settings
    run_ids: tuple[str, ...]  # in the order the runs were made


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> TrainedStore:
    """A store holding one `train --register` of the dataset; tests only read it."""
    with pytest.MonkeyPatch.context() as mp:
        settings = point_at(mp, tmp_path_factory.mktemp("trained-home"))
        code, out, err = cli_quietly("train", "--data", dataset, "--register", "--quiet")
        forget_mlflow_uris()
    assert code == 0, err[-3000:]
    return TrainedStore(settings, (run_id_in(out),))


@pytest.fixture(scope="module")
def two_trainings(dataset, tmp_path_factory) -> TrainedStore:
    """A store holding version 1 (default hyperparameters) and version 2 (clearly worse ones) of each model.

    Tests may move the serving alias (each first arranges it as it needs it) or add a failed run here.
    """
    with pytest.MonkeyPatch.context() as mp:
        settings = point_at(mp, tmp_path_factory.mktemp("two-trainings-home"))
        good, good_out, good_err = cli_quietly("train", "--data", dataset, "--register", "--quiet")
        worse, worse_out, worse_err = cli_quietly("train", "--data", dataset, "--register", "--quiet",
                                                  "--params", WORSE_PARAMS)
        forget_mlflow_uris()
    assert good == 0 and worse == 0, (good_err + worse_err)[-3000:]
    return TrainedStore(settings, (run_id_in(good_out), run_id_in(worse_out)))


@pytest.fixture
def use(monkeypatch):
    """Point this test's environment (MICROLIFT_HOME, and MLflow in-process) at a shared store."""
    def point(store: TrainedStore | Tuned) -> MlflowClient:
        point_at(monkeypatch, store.settings.home)
        return mlflow_client(store.settings)
    return point


# --- what a training run records ---------------------------------------------------------------------------------

def test_train_logs_one_finished_run_with_metrics_data_fingerprint_and_plots(trained, dataset, use):
    # given
    client = use(trained)

    # when
    runs = runs_of(client)

    # then exactly one run, finished, with every headline, baseline and truth metric
    assert [run.info.status for run in runs] == ["FINISHED"]
    run = runs[0]
    assert run.info.run_id == trained.run_ids[0]
    assert run.data.metrics.keys() >= METRIC_KEYS
    assert all(np.isfinite(run.data.metrics[key]) for key in METRIC_KEYS)
    # the data it was trained on, exactly
    expected = tracking.fingerprint(load_dataset(dataset))
    assert re.fullmatch(r"[0-9a-f]{64}", run.data.params["data.sha256"])
    assert run.data.params["data.sha256"] == expected["data.sha256"]
    assert run.data.params["data.rows.posts"] == str(len(pd.read_parquet(dataset / "posts.parquet")))
    # and the charts, as PNG images
    logged = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {f"{name}.png" for name in PLOTS} <= logged
    local = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="plots"))
    assert all(png.read_bytes().startswith(b"\x89PNG") for png in local.glob("*.png"))


def test_train_registers_each_model_tagged_with_its_run(trained, use):
    # given
    client = use(trained)
    settings = trained.settings

    # when
    versions = {kind: client.search_model_versions(f"name='{settings.model_name(kind)}'") for kind in MODEL_KINDS}

    # then one version of each model, all from the one run and tagged as one version set
    for kind, found in versions.items():
        assert [(str(v.version), v.run_id, v.tags.get("version_set")) for v in found] == \
            [("1", trained.run_ids[0], trained.run_ids[0])], kind


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_registered_model_is_a_signed_pyfunc_of_text_boosters_and_no_pickle(trained, use, tmp_path, kind):
    # given
    use(trained)

    # when
    folder = download_model(trained.settings, kind, "1", tmp_path / kind)

    # then MLflow can serve it, and it knows its input and output columns
    model = Model.load(str(folder / "MLmodel"))
    assert "python_function" in model.flavors
    assert model.signature is not None
    assert model.signature.inputs is not None and model.signature.outputs is not None
    # and the model itself is LightGBM text plus JSON: nothing to unpickle
    boosters = sorted((folder / "artifacts").rglob("booster*.txt"))
    assert boosters, sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    assert all(booster.read_text().startswith("tree") for booster in boosters)
    specs = list((folder / "artifacts").rglob("spec.json"))
    assert [json.loads(spec.read_text())["kind"] for spec in specs] == [kind]
    assert [*folder.rglob("*.pkl"), *folder.rglob("*.pickle")] == []


@pytest.mark.parametrize(("kind", "columns"), [
    ("engagement", ["mean", "p10", "p50", "p90"]),
    ("conversion", ["mean", "p10", "p50", "p90"]),
    ("lift", ["p10", "p50", "p90"]),
])
def test_registered_version_predicts_ordered_ranges_on_its_input_example(trained, use, tmp_path, kind, columns):
    # given a registered version and the input example logged with it
    use(trained)
    folder = download_model(trained.settings, kind, "1", tmp_path / kind)
    example = Model.load(str(folder / "MLmodel")).load_input_example(str(folder))
    assert len(example) > 0

    # when
    loaded = mlflow.pyfunc.load_model(f"models:/{trained.settings.model_name(kind)}/1")
    predicted = loaded.predict(example)

    # then a range per row, in order
    assert isinstance(predicted, pd.DataFrame)
    assert list(predicted.columns) == columns
    assert len(predicted) == len(example)
    assert np.isfinite(predicted.to_numpy(dtype=float)).all()
    assert (predicted["p10"] <= predicted["p50"]).all() and (predicted["p50"] <= predicted["p90"]).all()


# --- failures leave MLflow as it was -----------------------------------------------------------------------------

def test_malformed_dataset_fails_before_any_run_is_created(tmp_path, capsys):
    # given the committed sample with a platform the contract does not know and a negative follower count
    data = tmp_path / "malformed"
    data.mkdir()
    for name in ("creators", "posts", "campaigns"):
        shutil.copy(REPO / "data" / "sample" / f"{name}.csv", data)
    creators = pd.read_csv(data / "creators.csv", dtype=str, keep_default_na=False)
    creators.loc[2, "platform"] = "myspace"
    creators.loc[4, "followers"] = "-10"
    creators.to_csv(data / "creators.csv", index=False)
    client = mlflow_client(Settings.from_env())
    before = len(runs_of(client))

    # when
    code, out, err = cli(capsys, "train", "--data", data, "--register", "--quiet")

    # then the command fails, lists every problem with where it is and what is accepted, and logs nothing
    assert code != 0
    assert "2 problem(s)" in err
    assert "creators.csv row 3, column platform: got 'myspace'; expected one of instagram, tiktok, youtube" in err
    assert "creators.csv row 5, column followers" in err
    assert "run " not in out
    assert before == 0
    assert runs_of(client) == []


def test_crashed_training_is_marked_failed_and_leaves_the_champion_alone(two_trainings, dataset, use, capsys,
                                                                         monkeypatch):
    # given the champion alias on the versions of a successful training
    client = use(two_trainings)
    settings = two_trainings.settings
    set_champion(client, settings, None)
    code, out, _ = cli(capsys, "promote", "--version", "1", "--force")
    assert code == 0, out
    champion = champion_versions(client, settings)
    versions = {kind: len(client.search_model_versions(f"name='{settings.model_name(kind)}'")) for kind in MODEL_KINDS}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tracking, "log_models", disk_full)

    # when a training crashes while logging its models
    with pytest.raises(OSError, match="No space left"):
        main(["train", "--data", str(dataset), "--register", "--quiet"])

    # then its run is marked FAILED (with what it logged before the crash) ...
    crashed = runs_of(mlflow_client(settings))[0]
    assert crashed.info.run_id not in two_trainings.run_ids
    assert crashed.info.status == "FAILED"
    assert "engagement.r2" in crashed.data.metrics
    # ... nothing was registered, and the alias did not move
    assert {kind: len(client.search_model_versions(f"name='{settings.model_name(kind)}'"))
            for kind in MODEL_KINDS} == versions
    assert champion_versions(client, settings) == champion == {kind: "1" for kind in MODEL_KINDS}


# --- promotion ---------------------------------------------------------------------------------------------------

def test_promote_without_a_champion_moves_the_alias_and_says_why(two_trainings, use, capsys):
    # given
    client = use(two_trainings)
    set_champion(client, two_trainings.settings, None)

    # when
    code, out, _ = cli(capsys, "promote", "--version", "1")

    # then
    assert code == 0
    assert "moved 'champion'" in out and "there is no 'champion' yet" in out
    assert champion_versions(client, two_trainings.settings) == {kind: "1" for kind in MODEL_KINDS}


def test_promote_keeps_the_champion_when_the_candidate_is_worse_on_held_out_data(two_trainings, dataset, use,
                                                                                 capsys):
    # given the champion on the default hyperparameters; the latest versions were trained with worse ones
    client = use(two_trainings)
    set_champion(client, two_trainings.settings, "1")

    # when
    code, out, err = cli(capsys, "promote", "--data", dataset)

    # then it says how each headline metric compares, and does not move the alias
    assert code == 1, out + err
    assert re.search(r"engagement\.r2: candidate \S+ vs champion \S+ \(worse\)", out), out
    assert "conversion.poisson_deviance: candidate" in out and "lift.mdape: candidate" in out
    assert "not moved" in out
    assert champion_versions(client, two_trainings.settings) == {kind: "1" for kind in MODEL_KINDS}


def test_promote_force_moves_the_alias_without_comparing(two_trainings, use, capsys):
    # given
    client = use(two_trainings)
    set_champion(client, two_trainings.settings, "1")

    # when
    code, out, _ = cli(capsys, "promote", "--force")

    # then the latest versions serve, however they score
    assert code == 0
    assert "--force" in out
    assert champion_versions(client, two_trainings.settings) == {kind: "2" for kind in MODEL_KINDS}


def test_promote_never_moves_the_alias_to_models_the_service_would_refuse(two_trainings, use, capsys, monkeypatch):
    # given a champion, and checks under which the latest conversion model's base rate is implausible (as a base
    # rate with a ln rate of 68 per unit once was under the real bounds)
    client = use(two_trainings)
    set_champion(client, two_trainings.settings, "1")
    monkeypatch.setitem(plausible.TERM, "coef", plausible.Bound(-1e-6, 1e-6, "a term's ln rate per unit"))

    # when promoted, even with --force
    code, out, _ = cli(capsys, "promote", "--force")

    # then it is refused, saying which model and why, and the champion keeps serving
    assert code == 1
    assert "not moved: the service would refuse it" in out and "conversion model of version 2" in out
    assert champion_versions(client, two_trainings.settings) == {kind: "1" for kind in MODEL_KINDS}


def test_models_lists_every_version_with_its_alias(two_trainings, use, capsys):
    # given
    client = use(two_trainings)
    set_champion(client, two_trainings.settings, "1")

    # when
    code, out, _ = cli(capsys, "models")

    # then one line per version, the champion's marked, each with the run that made it
    assert code == 0
    rows = [line.split() for line in out.splitlines()[1:]]
    listed = {(row[0], row[1]): row[2:] for row in rows}
    first, second = two_trainings.run_ids
    for kind in MODEL_KINDS:
        name = two_trainings.settings.model_name(kind)
        assert listed[(name, "1")] == ["champion", first]
        assert listed[(name, "2")] == ["-", second]
    assert len(rows) == 2 * len(MODEL_KINDS)


def test_evaluate_prints_the_champions_metrics_as_json(two_trainings, dataset, use, capsys):
    # given
    client = use(two_trainings)
    set_champion(client, two_trainings.settings, "1")

    # when
    code, out, err = cli(capsys, "evaluate", "--data", dataset, "--version", "champion")

    # then
    assert code == 0, err
    report = json.loads(out)
    assert {kind: str(v) for kind, v in report["version_set"].items()} == {kind: "1" for kind in MODEL_KINDS}
    assert report["metrics"].keys() >= METRIC_KEYS
    assert report["held_out_only"] is False


@pytest.mark.slow
def test_promote_never_pairs_models_of_different_trainings(dataset, tmp_path, capsys):
    # given a complete version set, then a training on data without campaigns that registers only engagement
    assert cli(capsys, "train", "--data", dataset, "--register", "--quiet")[0] == 0
    organic = tmp_path / "organic"
    write_tables(simulate(300, 0, seed=3, progress=False), organic, fmt="parquet")
    code, out, err = cli(capsys, "train", "--data", organic, "--register", "--quiet")
    assert code == 0 and "conversion model skipped" in out, err

    # when
    code, out, _ = cli(capsys, "promote")

    # then the latest training is no complete version set, so nothing serves yet
    settings = Settings.from_env()
    assert code != 0, out
    assert champion_versions(mlflow_client(settings), settings) == {}


# --- tuning ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tuned:
    code: int
    output: str
    settings: Settings


@pytest.fixture(scope="module")
def tuned(dataset, tmp_path_factory) -> Tuned:
    """`tune --trials 2` of the engagement model, once, in a store of its own; tests only read it."""
    with pytest.MonkeyPatch.context() as mp:
        settings = point_at(mp, tmp_path_factory.mktemp("tuned-home"))
        code, out, _ = cli_quietly("tune", "--data", dataset, "--trials", "2", "--model", "engagement")
        forget_mlflow_uris()
    return Tuned(code, out, settings)


def tuning_runs(client: MlflowClient) -> tuple[object, list]:
    """The tuning run of the microlift experiment and its child runs, wherever MLflow put them."""
    (parent,) = [run for run in runs_of(client) if "mlflow.parentRunId" not in run.data.tags]
    children = client.search_runs([e.experiment_id for e in client.search_experiments()],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    return parent, children


def test_tune_prints_the_best_parameters_of_its_trials_as_json(tuned, use):
    # given
    client = use(tuned)

    # when
    best = json.loads(tuned.output)
    parent, trials = tuning_runs(client)

    # then parameters `train --params` accepts, the best of two scored trials, also logged on the tuning run
    assert tuned.code == 0
    assert list(best) == ["engagement"]
    assert {"learning_rate", "num_leaves", "min_data_in_leaf", "feature_fraction", "lambda_l2"} <= \
        best["engagement"].keys()
    assert parent.info.status == "FINISHED"
    assert len(trials) == 2
    assert all(trial.info.status == "FINISHED" and "engagement.r2" in trial.data.metrics for trial in trials)
    assert {k: parent.data.params[f"best.{k}"] for k in best["engagement"]} == \
        {k: str(v) for k, v in best["engagement"].items()}
    assert parent.data.metrics["best_score"] == pytest.approx(max(t.data.metrics["engagement.r2"] for t in trials))


def test_tune_searches_the_posting_model_on_its_log_loss(dataset, tmp_path, capsys, monkeypatch):
    # given: a store of its own
    point_at(monkeypatch, tmp_path / "home")
    # when
    code, out, err = cli(capsys, "tune", "--data", dataset, "--trials", "1", "--model", "posting")
    # then: parameters for `train --params`, scored by held-out log loss of who posted
    assert code == 0, err
    best = json.loads(out)
    assert list(best) == ["posting"] and "num_leaves" in best["posting"]
    client = MlflowClient()
    _, trials = tuning_runs(client)
    assert len(trials) == 1 and 0 < trials[0].data.metrics["posting.log_loss"] < 0.7


def test_tune_nests_one_run_per_trial_in_the_tuning_experiment(tuned, use):
    # given
    client = use(tuned)

    # when
    parent, trials = tuning_runs(client)

    # then the trials sit under the tuning run, in its experiment
    assert [t.info.experiment_id for t in trials] == [parent.info.experiment_id] * 2
    assert len(runs_of(client)) == 3


# --- real data: the Kim et al. Instagram influencers -------------------------------------------------------------

@pytest.fixture
def kim_source() -> Path:
    if not (KIM / "influencers.txt").is_file() or not (KIM / "post_table.csv").is_file():
        pytest.skip(f"the Kim Instagram files are not in {KIM}")
    return KIM


def test_kim_instagram_data_trains_the_engagement_model_well_above_the_baseline(kim_source, tmp_path, capsys):
    # given the real creators and posts in contract shape
    data = tmp_path / "kim"
    code, _, err = cli(capsys, "adapt", "kim-instagram", "--src", kim_source, "--out", data)
    assert code == 0, err

    # when
    code, out, err = cli(capsys, "train", "--data", data, "--quiet")

    # then only the engagement model trains; the others say why not
    assert code == 0, err
    assert "conversion model skipped" in out and "lift model skipped" in out
    client = mlflow_client(Settings.from_env())
    (run,) = runs_of(client)
    assert run.info.status == "FINISHED"
    assert {key.split(".")[0] for key in run.data.metrics} == {"engagement"}
    assert {"skipped.conversion", "skipped.lift"} <= run.data.tags.keys()
    logged = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    assert [model.name for model in logged] == ["engagement"]
    # and it beats the planner's hand estimate (tier x platform x niche median) by far on held-out creators
    metrics = run.data.metrics
    assert metrics["engagement.r2"] >= 1.8 * metrics["engagement.r2_baseline"] > 0


def test_kim_adapter_needs_only_the_influencer_list_and_the_post_table(kim_source, tmp_path, capsys):
    # given a copy of just the two required files (no post metadata)
    src = tmp_path / "kim-minimal"
    src.mkdir()
    for name in ("influencers.txt", "post_table.csv"):
        shutil.copy(kim_source / name, src)

    # when
    code, out, err = cli(capsys, "adapt", "kim-instagram", "--src", src, "--out", tmp_path / "kim")

    # then a valid contract dataset, with the same creators and posts as from the full set of files
    assert code == 0, err
    assert cli(capsys, "validate", "--data", tmp_path / "kim")[0] == 0
    minimal = load_dataset(tmp_path / "kim")
    assert len(minimal.creators) > 1000 and len(minimal.posts) > 1000
    assert set(minimal.posts["format"]) == {"feed"}
    assert not minimal.posts["sponsored"].any()
    assert minimal.posts["creator_id"].isin(minimal.creators["creator_id"]).all()
    code, _, err = cli(capsys, "adapt", "kim-instagram", "--src", kim_source, "--out", tmp_path / "kim-full")
    full = load_dataset(tmp_path / "kim-full")
    assert (len(minimal.creators), len(minimal.posts)) == (len(full.creators), len(full.posts))


# --- the same flow against real deployments (slow) ---------------------------------------------------------------

def subprocess_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Until GET url answers 200; fails early, with the log, if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[:3]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError), \
                urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def assert_one_registered_training(client: MlflowClient, settings: Settings, experiment: str = "microlift") -> str:
    """The experiment holds one finished run, and each model one version made by it; returns its run id."""
    (run,) = runs_of(client, experiment)
    assert run.info.status == "FINISHED"
    assert run.data.metrics.keys() >= METRIC_KEYS
    for kind in MODEL_KINDS:
        (version,) = client.search_model_versions(f"name='{settings.model_name(kind)}'")
        assert (version.run_id, version.tags.get("version_set")) == (run.info.run_id, run.info.run_id)
    return run.info.run_id


@pytest.fixture
def mlflow_server(tmp_path) -> str:
    """A real `mlflow server` on SQLite with proxied artifacts; yields its URL."""
    port = free_port()
    log = tmp_path / "mlflow-server.log"
    argv = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination", str(tmp_path / "art"), "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1"]  # its default of four workers, each importing MLflow, takes ~45 s to start on two cores
    with background(argv, subprocess_env(), log, cwd=tmp_path) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/health", process, log, timeout=60)
        yield url


@pytest.mark.slow
def test_train_against_an_mlflow_server(mlflow_server, dataset, tmp_path, monkeypatch, capsys):
    # given
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    settings = Settings.from_env()

    # when
    code, out, err = cli(capsys, "train", "--data", dataset, "--register", "--quiet")

    # then the server knows the run and the versions, and stored the artifacts in its own folder
    assert code == 0, err
    run_id = assert_one_registered_training(MlflowClient(mlflow_server, mlflow_server), settings)
    assert run_id == run_id_in(out)
    assert list((tmp_path / "art").rglob("booster.txt"))
    assert not (settings.home / "mlartifacts").exists()


@pytest.fixture
def postgres_uri(monkeypatch) -> str:
    """A fresh PostgreSQL database for one test (dropped afterwards); its SQLAlchemy URL."""
    base = os.environ.get("MICROLIFT_TEST_DATABASE_URL")
    if not base:
        pytest.skip("set MICROLIFT_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) "
                    "to run the PostgreSQL tests")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"mlflow_{uuid.uuid4().hex[:12]}"
    server = {"host": url.host, "port": url.port or 5432, "user": url.username, "password": url.password,
              "dbname": url.database or "postgres"}
    with psycopg.connect(**{k: v for k, v in server.items() if v is not None}, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        forget_mlflow_uris()
        with psycopg.connect(**{k: v for k, v in server.items() if v is not None}, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
@pytest.mark.postgres
def test_train_with_a_postgresql_backend_store(postgres_uri, dataset, monkeypatch, capsys):
    # given
    monkeypatch.setenv("MLFLOW_TRACKING_URI", postgres_uri)
    settings = Settings.from_env()

    # when
    code, out, err = cli(capsys, "train", "--data", dataset, "--register", "--quiet")

    # then
    assert code == 0, err
    run_id = assert_one_registered_training(MlflowClient(postgres_uri, postgres_uri), settings)
    assert run_id == run_id_in(out)


@dataclass(frozen=True)
class ProjectRun:
    completed: subprocess.CompletedProcess
    client: MlflowClient
    settings: Settings


@pytest.fixture(scope="module")
def mlproject_train(dataset, tmp_path_factory) -> ProjectRun:
    """`mlflow run` of the MLproject's train entry point, as its README says, into a fresh SQLite store.

    It runs from a temporary folder with the repository as the project URI: MLflow puts a store's default
    artifact root in ./mlruns of the current folder, and tests never write into the repository.
    """
    tmp = tmp_path_factory.mktemp("mlproject")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    env = subprocess_env(MICROLIFT_HOME=str(tmp / "home"), MLFLOW_TRACKING_URI=uri)
    env.pop("MLFLOW_REGISTRY_URI", None)
    argv = [str(BIN / "mlflow"), "run", str(REPO), "-e", "train", "--env-manager", "local",
            "-P", f"data={dataset}", "-P", "experiment=mlproject"]
    completed = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    with pytest.MonkeyPatch.context() as mp:
        settings = point_at(mp, tmp / "home", tracking_uri=uri)
    return ProjectRun(completed, MlflowClient(uri, uri), settings)


@pytest.mark.slow
def test_mlflow_run_of_the_train_entry_point_trains_and_registers(mlproject_train):
    # given / when
    completed, client = mlproject_train.completed, mlproject_train.client

    # then the project's run finished, and the training it ran logged its metrics and registered the models
    assert completed.returncode == 0, completed.stderr[-3000:]
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    project = [run for run in runs if run.data.tags.get("mlflow.project.entryPoint") == "train"]
    assert [run.info.status for run in project] == ["FINISHED"]
    (training,) = [run for run in runs if run.data.metrics.keys() >= METRIC_KEYS]
    assert training.info.status == "FINISHED"
    for kind in MODEL_KINDS:
        (version,) = client.search_model_versions(f"name='{mlproject_train.settings.model_name(kind)}'")
        assert version.tags["version_set"] == training.info.run_id


@pytest.mark.slow
def test_mlflow_run_puts_the_run_in_the_experiment_given_as_parameter(mlproject_train):
    # given / when
    completed, client = mlproject_train.completed, mlproject_train.client
    assert completed.returncode == 0, completed.stderr[-3000:]

    # then
    assert [run.info.status for run in runs_of(client, "mlproject")] == ["FINISHED"]


@pytest.mark.slow
def test_mlflow_models_serve_answers_invocations_with_ranges(trained, use, tmp_path):
    # given the registered engagement model, its serving example, and what it predicts in-process
    use(trained)
    settings = trained.settings
    folder = download_model(settings, "engagement", "1", tmp_path / "engagement")
    payload = (folder / "serving_input_example.json").read_bytes()
    example = Model.load(str(folder / "MLmodel")).load_input_example(str(folder))
    expected = mlflow.pyfunc.load_model(f"models:/{settings.model_name('engagement')}/1").predict(example)
    port = free_port()
    log = tmp_path / "serve.log"
    argv = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{settings.model_name('engagement')}/1",
            "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"]
    env = subprocess_env(MLFLOW_TRACKING_URI=settings.tracking_uri, MLFLOW_REGISTRY_URI=settings.registry_uri)

    with background(argv, env, log, cwd=tmp_path) as process:
        wait_for(f"http://127.0.0.1:{port}/ping", process, log, timeout=90)

        # when
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=payload, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, json.loads(response.read())

    # then the same ranges as the model gives in-process
    assert status == 200
    served = pd.DataFrame(body["predictions"])
    assert list(served.columns) == ["mean", "p10", "p50", "p90"]
    assert (served["p10"] <= served["p50"]).all() and (served["p50"] <= served["p90"]).all()
    pd.testing.assert_frame_equal(served, expected, check_dtype=False)


# --- the engine from the command line: rank, forecast, backtest with registered models ----------------------------

CAMPAIGN_BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 400, "compensation": "gifting",
                  "marketplace": "amazon", "weeks": 8}


def _brief_file(tmp_path: Path, name: str = "campaign.json", **changes) -> Path:
    """A campaign file in the request shape of POST /v1/forecast: the brief, and budget and options beside it."""
    campaign = {"brief": CAMPAIGN_BRIEF, "budget": 3000, "top_k": 10, "draws": 200, **changes}
    path = tmp_path / name
    path.write_text(json.dumps(campaign))
    return path


def test_a_campaign_file_in_an_old_spelling_plans_the_same_with_a_deprecation_note(trained, dataset, use, tmp_path,
                                                                                   capsys):
    # given the same campaign as a request body, with the brief's fields flat beside the options, and with the
    # budget inside the brief
    use(trained)
    new = _brief_file(tmp_path)
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({**CAMPAIGN_BRIEF, "budget": 3000, "top_k": 10, "draws": 200}))
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"brief": {**CAMPAIGN_BRIEF, "budget": 3000}, "top_k": 10, "draws": 200}))
    answers = {}
    for path in (new, flat, nested):
        # when
        code, out, err = cli(capsys, "forecast", "--campaign", path, "--candidates", dataset, "--version", "1",
                             "--json")
        # then every spelling plans; only the old ones say they are deprecated
        assert code == 0, err
        answers[path.name] = json.loads(out)
        assert ("deprecated" in err) == (path != new), err
    assert answers["flat.json"] == answers["campaign.json"] == answers["nested.json"]


def test_a_campaign_file_with_two_budgets_or_a_wrong_field_is_refused_naming_it(trained, dataset, use, tmp_path,
                                                                                capsys):
    use(trained)
    for changes, words in [({"brief": {**CAMPAIGN_BRIEF, "budget": 10}}, "brief.budget"),
                           ({"draws": 5}, "draws: got 5"),
                           ({"brief": {**CAMPAIGN_BRIEF, "niche": "astrology"}}, "brief.niche"),
                           ({"limits": {"min_creators": 5000}}, "limits.min_creators")]:
        path = _brief_file(tmp_path, **changes)
        code, out, err = cli(capsys, "forecast", "--campaign", path, "--candidates", dataset, "--version", "1")
        assert code == 2 and words in err and "Traceback" not in err, (changes, err)


def test_forecast_command_prints_the_api_shaped_json(trained, dataset, use, tmp_path, capsys):
    # given
    use(trained)
    campaign = _brief_file(tmp_path)
    # when
    code, out, err = cli(capsys, "forecast", "--campaign", campaign, "--candidates", dataset, "--version", "1",
                         "--json")
    # then
    assert code == 0, err
    result = json.loads(out)
    assert {k: str(v) for k, v in result["models"].items()} == {kind: "1" for kind in MODEL_KINDS}
    assert 0 < result["roster"]["total_cost"] <= 3000
    bands = result["forecast"]["units_per_month_during"]
    assert bands["p10"] <= bands["p50"] <= bands["p90"]
    curve = result["budget_curve"]
    assert len(curve) >= 8 and curve[0]["budget"] == pytest.approx(750) and curve[-1]["budget"] == pytest.approx(12000)
    medians = [point["incremental_units_per_month"]["p50"] for point in curve]
    assert medians == sorted(medians)
    assert "budget" in result["suggested_budget"]


def test_forecast_command_says_why_a_new_product_has_no_lift_multiple(trained, dataset, use, tmp_path, capsys):
    # given: a launch (no sales before)
    use(trained)
    campaign = _brief_file(tmp_path, brief={**CAMPAIGN_BRIEF, "baseline_units_per_month": 0})
    # when
    code, out, err = cli(capsys, "forecast", "--campaign", campaign, "--candidates", dataset, "--version", "1")
    # then
    assert code == 0, err
    assert "lift multiple               none: a new product" in out
    assert "note: lift_multiple is null: a new product" in out


def test_forecast_command_draws_the_budget_curve_to_an_image(trained, dataset, use, tmp_path, capsys):
    # given
    use(trained)
    campaign = _brief_file(tmp_path)
    plot = tmp_path / "curve.png"
    # when
    code, out, err = cli(capsys, "forecast", "--campaign", campaign, "--candidates", dataset, "--version", "1",
                         "--plot", plot)
    # then: a whole PNG, the table printed as usual, and nothing half-written beside it
    assert code == 0, err
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    assert "budget curve:" in out and str(plot) in err
    # the money words say what they are: ROAS always, ROI only with a gross margin (this brief has none)
    assert "ROAS (revenue per USD)" in out and "ROI (profit per USD)        none: needs the brief's gross margin" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign.json", "curve.png"]


@pytest.mark.parametrize(("name", "message", "budget"),
                         [("curve.txt", "expected a file name ending in .png, .svg, .pdf", 3000),
                          ("missing/curve.png", "does not exist", 3000),
                          ("curve.png", "the campaign's budget is 0; a budget-response curve", 0)])
def test_forecast_command_refuses_a_plot_it_cannot_write_before_any_work(trained, dataset, use, tmp_path, capsys,
                                                                        name, message, budget):
    # given
    use(trained)
    campaign = _brief_file(tmp_path, budget=budget)
    # when
    code, out, err = cli(capsys, "forecast", "--campaign", campaign, "--candidates", dataset, "--version", "1",
                         "--plot", tmp_path / name)
    # then: a clear error naming the option and the value, no forecast printed, no file written
    assert code == 2
    assert "--plot" in err and name.split("/")[0] in err and message in err
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign.json"]


@pytest.mark.parametrize(("command", "option"), [("rank", "--campaign"), ("forecast", "--candidates"),
                                                   ("train", "--data"), ("import-creators", "path")])
def test_a_missing_input_path_is_refused_by_the_parser_naming_the_option_and_the_path(dataset, tmp_path, capsys,
                                                                                     command, option):
    # given: a path where nothing is
    missing = tmp_path / "nowhere" / "input.json"
    inputs = {"--campaign": _brief_file(tmp_path), "--candidates": dataset, "--data": dataset}
    inputs[option] = missing
    argv = {"rank": ["--campaign", inputs["--campaign"], "--candidates", inputs["--candidates"]],
            "forecast": ["--campaign", inputs["--campaign"], "--candidates", inputs["--candidates"]],
            "train": ["--data", inputs["--data"]], "import-creators": [missing]}[command]
    # when
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([command, *map(str, argv)])
    out, err = capsys.readouterr()
    # then: the usage error names the option and the path; nothing ran
    assert exited.value.code == 2
    assert f"argument {option}: no such file or folder: {str(missing)!r}" in err
    assert out == ""


def test_rank_command_orders_by_the_objective_and_gives_reasons(trained, dataset, use, tmp_path, capsys):
    # given
    use(trained)
    campaign = _brief_file(tmp_path, objective="conversions")
    # when
    code, out, err = cli(capsys, "rank", "--campaign", campaign, "--candidates", dataset, "--version", "1", "--json")
    # then
    assert code == 0, err
    result = json.loads(out)
    assert result["objective"] == "attributed_units" and len(result["creators"]) == 10  # "conversions": older name
    assert all(row["reasons"] for row in result["creators"])
    # and the table form prints one line per creator under a header
    code, out, _ = cli(capsys, "rank", "--campaign", campaign, "--candidates", dataset, "--version", "1")
    assert code == 0 and len([line for line in out.splitlines() if line[:3].strip().isdigit()]) == 10


def test_a_bad_brief_names_the_field_and_what_is_accepted(trained, dataset, use, tmp_path, capsys):
    use(trained)
    campaign = _brief_file(tmp_path, brief={**CAMPAIGN_BRIEF, "niche": "crypto"})
    code, out, err = cli(capsys, "forecast", "--campaign", campaign, "--candidates", dataset, "--version", "1")
    assert code == 2 and out == ""
    assert "niche: got 'crypto'; expected one of beauty" in err
    assert "Traceback" not in err


def test_backtest_command_scores_held_out_campaigns(trained, dataset, use, capsys):
    use(trained)
    code, out, err = cli(capsys, "backtest", "--data", dataset, "--version", "1", "--draws", "100")
    assert code == 0, err
    result = json.loads(out)
    assert result["forecast.campaigns"] >= 1
    assert 0.0 <= result["forecast.coverage_80"] <= 1.0
    assert result["forecast.mdape"] > 0 and result["forecast.mdape_truth"] > 0
