"""Training and scoring on Dask: a local cluster of two worker processes (one thread each) on a small partitioned
dataset, against single-machine training and in-process scoring of the same data."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from microlift.cli import main
from microlift.models import features as F
from microlift.models import registry
from microlift.models.brief import Brief
from microlift.models.contract import ContractError
from microlift.models.datasets import load_dataset
from microlift.models.estimators import MODELS, ConversionModel, PostingModel, _train
from microlift.models.modelstore import load_version_set
from microlift.models.settings import MODEL_KINDS, Settings
from microlift.training.distributed.cluster import connect
from microlift.training.distributed.data import (
    creator_sums,
    load_partitioned,
    model_frame,
    prepared,
    prepared_invitations,
    split_codes,
)
from microlift.training.distributed.score import score_partitioned
from microlift.training.distributed.train import _loss_by_round, best_iteration, train_all
from microlift.training.evaluate import evaluate
from microlift.training.prepare import prepare
from microlift.training.scoring import score_in_process
from microlift.training.train import train_all as train_single

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*Add type hints to the `predict` method:UserWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
CREATORS, CAMPAIGNS = 6_000, 500
BRIEF = {"niche": "beauty", "product_price": 30.0, "baseline_units_per_month": 500.0, "compensation": "gifting",
         "marketplace": "amazon", "weeks": 4, "platforms": ["instagram", "tiktok"]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """6,000 creators and 500 campaigns in 4 slices (a folder of Parquet parts per table). Smaller datasets hold
    too few campaign posts for a 2% comparison: there the seed alone moves the held-out deviance by about 3%."""
    from microlift.training.simulation.partitioned import simulate_partitioned

    out = tmp_path_factory.mktemp("partitioned")
    simulate_partitioned(CREATORS, CAMPAIGNS, 4, out, seed=1, progress=False)
    return out


@pytest.fixture(scope="module")
def client():
    with connect(workers=2, threads=1) as dask_client:
        yield dask_client


@pytest.fixture(scope="module")
def prep(folder):
    return prepare(load_dataset(folder))  # a folder of parts per table is a table for single-machine code too


@pytest.fixture(scope="module")
def single(prep):
    return train_single(prep, seed=0, progress=False)


@pytest.fixture(scope="module")
def on_dask(client, folder):
    return train_all(client, load_partitioned(folder), seed=0, progress=False)


def test_partitioned_simulation_is_one_contract_dataset(folder):
    # given a dataset simulated in 4 slices
    dataset = load_dataset(folder)
    # then creators and posts are folders of 4 parts whose ids never collide, and every reference resolves
    for name in ("creators", "posts", "truth_posts"):
        assert len(list((folder / name).glob("part-*.parquet"))) == 4
    assert len(dataset.creators) == CREATORS and len(dataset.campaigns) == CAMPAIGNS
    assert dataset.posts["post_id"].is_unique and dataset.creators["creator_id"].is_unique
    assert dataset.posts["campaign_id"].dropna().isin(dataset.campaigns["campaign_id"]).all()


def test_partitioned_simulation_writes_invitations_whose_ids_match_the_other_tables(folder):
    # given a dataset simulated in 4 slices, each slice numbering its own creators and campaigns from 0
    dataset = load_dataset(folder)  # references (and posted false without posts) checked on load
    invitations = dataset.invitations
    # then the invitations are one table whose pairs never collide, naming creators and campaigns of the dataset
    assert (folder / "invitations.parquet").is_file() and len(invitations) > CAMPAIGNS
    assert not invitations.duplicated(["campaign_id", "creator_id"]).any()
    assert invitations["campaign_id"].isin(dataset.campaigns["campaign_id"]).all()
    assert invitations["creator_id"].isin(dataset.creators["creator_id"]).all()
    # and each campaign's invited and posting creators are the ones its truth counted before the ids were shifted
    truth = dataset.truth["truth_campaigns"].set_index("campaign_id")
    per_campaign = invitations.groupby("campaign_id")["posted"].agg(["size", "sum"])
    assert per_campaign["size"].to_dict() == truth.loc[per_campaign.index, "invited"].to_dict()
    assert per_campaign["sum"].to_dict() == truth.loc[per_campaign.index, "posted"].to_dict()
    # and an invited creator has posts in the campaign exactly when the invitation says it posted
    made = dataset.posts.dropna(subset=["campaign_id"])
    with_posts = pd.MultiIndex.from_frame(made[["campaign_id", "creator_id"]]).unique()
    pairs = pd.MultiIndex.from_frame(invitations[["campaign_id", "creator_id"]])
    np.testing.assert_array_equal(pairs.isin(with_posts), invitations["posted"].to_numpy(dtype=bool))
    assert not any("not invited" in w for w in dataset.warnings)
    # and the Dask loader reads the same table
    pd.testing.assert_frame_equal(load_partitioned(folder).invitations, invitations)


def test_partitioned_simulation_counts_what_it_writes(tmp_path):
    from microlift.training.simulation.partitioned import simulate_partitioned

    # when a small world is simulated in 2 slices
    counts = simulate_partitioned(400, 10, 2, tmp_path, seed=3, progress=False)
    # then the counts it reports are the rows of the contract tables on disk, invitations included
    written = load_dataset(tmp_path).tables()
    assert counts == {name: len(frame) for name, frame in written.items()} and counts["invitations"] > 0


def test_rows_prepared_per_partition_equal_single_machine_rows(client, folder, prep):
    # when the model rows are built partition by partition from whole-data sums
    rows = prepared(load_partitioned(folder)).compute()
    # then they are the single-machine rows (leave-one-out history and track record included)
    key = "post_id"
    left = rows.drop(columns="split").sort_values(key).reset_index(drop=True)
    right = prep.posts.sort_values(key).reset_index(drop=True)[left.columns]
    pd.testing.assert_frame_equal(left, right, check_dtype=False, rtol=1e-9)


def test_invitation_rows_from_partition_sums_equal_single_machine_rows(client, folder, prep):
    # when the posting model's rows are built from the whole invitations table and sums over every partition
    data = load_partitioned(folder)
    rows = prepared_invitations(data, *creator_sums(data.posts, data.creators))
    # then they are the single-machine rows (track record without the invitation's own campaign included)
    pd.testing.assert_frame_equal(rows, prep.invitations[rows.columns], check_dtype=False, rtol=1e-9)


def test_posted_false_with_posts_fails_when_the_partition_is_read(client, folder):
    # given an invitation marked "no content received" although the posts hold that creator's campaign post
    data = load_partitioned(folder)
    invitations = data.invitations.copy()
    invitations.loc[invitations["posted"].astype(bool).idxmax(), "posted"] = False
    data.invitations = invitations
    # when the partitions are prepared, then the contract's cross-table rule rejects it, naming the post
    with pytest.raises(ContractError, match="posted.*holds post"):
        prepared(data).compute()


def test_cut_at_the_round_lightgbm_early_stopping_keeps(prep):
    # given a conversion model early-stopped by LightGBM on its calibration rows
    rows = prep.conversions
    split = split_codes(rows["creator_id"])
    fit, calibration = split == 0, split == 1
    y = rows["conversions"].to_numpy(dtype=float)
    stopped = ConversionModel(seed=0).fit(rows[fit], y[fit], (rows[calibration], y[calibration]))
    # when the same booster grows all its rounds and the calibration curve picks the round
    full = _train(stopped._params(stopped.defaults), F.matrix("conversion", rows[fit]), y[fit],
                  F.feature_names("conversion"), F.categorical_names("conversion"), 400,
                  init_score=stopped.offset(rows[fit]))
    frame = model_frame(rows[calibration].assign(split=1), "conversion", "conversions")
    frame["init"] = stopped.offset(rows[calibration])
    columns = [c for c in frame.columns if c.startswith("x")]
    # then it is the round LightGBM kept
    assert best_iteration(_loss_by_round(frame, full, columns, "init", True)) == stopped.booster_.best_iteration


def test_dask_models_score_within_2_percent_of_single_machine(prep, single, on_dask):
    # given both sets of models scored on the same held-out groups by training.evaluate
    ours = evaluate(on_dask.models, prep, held_out_only=True)
    theirs = evaluate(single.models, prep, held_out_only=True)
    # then what the Dask run logged is what evaluate finds
    for key in ("engagement.r2", "engagement.coverage_80", "conversion.poisson_deviance"):
        assert on_dask.metrics[key] == pytest.approx(ours[key], rel=1e-9), key
    # and engagement R2 is within 2% of the single-machine model's
    assert ours["engagement.r2"] == pytest.approx(theirs["engagement.r2"], rel=0.02)
    # and the conversion deviance is at most 2% above the single-machine model's. One-sided: which rows each Dask
    # worker holds varies from run to run, and so does the booster; measured on this data, the deviance of
    # repeated Dask runs spread over about +-3% around the single-machine model's, below it as often as above.
    assert ours["conversion.poisson_deviance"] <= 1.02 * theirs["conversion.poisson_deviance"]
    # and the Dask run's interval terms hold about 80% of held-out engagement rates
    assert 0.75 <= ours["engagement.coverage_80"] <= 0.85


def test_dask_run_trains_the_posting_model_like_single_machine_training(prep, single, on_dask):
    # given the four models of a Dask run
    assert set(on_dask.models) == set(MODEL_KINDS) and not on_dask.skipped
    assert isinstance(on_dask.models["posting"], PostingModel)
    # then its posting scores are those evaluate finds on the same held-out creators (the baselines differ:
    # evaluate's planner also sees the calibration creators), and beat a planner's way-of-paying x tier rate
    ours = evaluate(on_dask.models, prep, held_out_only=True)
    assert on_dask.rows["posting.test"] == single.rows["posting.test"] > 0
    for key in ("posting.log_loss", "posting.brier", "posting.calibration_max_gap"):
        assert on_dask.metrics[key] == pytest.approx(ours[key], rel=1e-9), key
    assert on_dask.metrics["posting.log_loss"] < on_dask.metrics["posting.log_loss_baseline"]
    # and it is within 2% of the single-machine posting model (they differ only through the conversion model,
    # which prices an affiliate's offer)
    assert on_dask.metrics["posting.log_loss"] == pytest.approx(single.metrics["posting.log_loss"], rel=0.02)


def test_dask_artifact_loads_with_the_single_machine_loader(on_dask, single, prep, tmp_path):
    for kind in ("engagement", "conversion", "lift"):
        # when a Dask-trained model is saved and loaded as any other
        folder = on_dask.models[kind].save(tmp_path / kind)
        loaded = MODELS[kind].load(folder)
        # then its spec holds the same fields as a single-machine model's, and it predicts the same
        theirs = json.loads(single.models[kind].save(tmp_path / f"single-{kind}").joinpath("spec.json").read_text())
        assert set(json.loads((folder / "spec.json").read_text())) == set(theirs)
        rows = prep.conversions.head(200) if kind != "lift" else on_dask.evaluation["lift"]
        ours = on_dask.models[kind].predict(rows)
        for q, values in loaded.predict(rows).items():
            np.testing.assert_allclose(values, ours[q], rtol=1e-12)
    # and the posting model (trained in process) loads and predicts the same probabilities
    rows = on_dask.evaluation["posting"].head(200)
    loaded = MODELS["posting"].load(on_dask.models["posting"].save(tmp_path / "posting"))
    np.testing.assert_allclose(loaded.predict(rows), on_dask.models["posting"].predict(rows), rtol=1e-12)


def test_dask_scoring_equals_in_process_scoring(client, folder, on_dask):
    # given a brief and the catalog of a dataset folder (history from its posts)
    brief = Brief.from_mapping(dict(BRIEF))
    models = {k: on_dask.models[k] for k in ("engagement", "conversion", "posting")}  # what scoring reads
    # when it is scored partition by partition on the cluster and in process
    ours = score_partitioned(folder, brief, models).compute().reset_index(drop=True)
    theirs = score_in_process(folder, brief, models)
    # then every creator's row is the same
    assert len(ours) == CREATORS and ours["eligible"].any() and not ours["eligible"].all()
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, rtol=1e-9)


def test_train_engine_dask_registers_a_version_set_and_scores(client, folder, tmp_path, monkeypatch, capsys):
    # given a store of the test's own
    monkeypatch.setenv("MICROLIFT_HOME", str(tmp_path / "home"))
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    address = client.scheduler.address
    # when the command line trains on the running cluster and registers the models
    assert main(["train", "--data", str(folder), "--engine", "dask", "--scheduler", address, "--register",
                 "--quiet"]) == 0
    # then one run made one version of each model, tagged with that run, like any training run
    version_set = registry.resolve(settings, "latest")
    assert set(version_set.versions) == set(MODEL_KINDS)
    store = MlflowClient(settings.tracking_uri, settings.registry_uri)
    tags = {kind: registry.version_tag(settings, kind, v, "version_set") for kind, v in version_set.versions.items()}
    run = store.get_run(tags["engagement"])
    assert len(set(tags.values())) == 1 and run.data.params["engine"] == "dask"
    assert {"engagement.r2", "conversion.poisson_deviance", "posting.log_loss", "lift.mdape"} <= set(run.data.metrics)
    assert int(run.data.params["data.rows.invitations"]) > 0  # the invitations are part of the data fingerprint
    models = load_version_set(settings, version_set.versions, "latest").models
    assert {type(m).__name__ for m in models.values()} == {"EngagementModel", "ConversionModel", "PostingModel",
                                                           "LiftModel"}
    # and `microlift score` writes the same rows on the cluster as in process
    campaign = tmp_path / "campaign.json"
    campaign.write_text(json.dumps({"brief": BRIEF, "budget": 3000.0}))
    common = ["score", "--catalog", str(folder / "creators"), "--campaign", str(campaign), "--version", "latest"]
    assert main([*common, "--out", str(tmp_path / "local.parquet")]) == 0
    assert main([*common, "--out", str(tmp_path / "dask"), "--engine", "dask", "--scheduler", address]) == 0
    assert f"scored {CREATORS:,} creators" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask").reset_index(drop=True),
                                  pd.read_parquet(tmp_path / "local.parquet"), check_dtype=False, rtol=1e-9)
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
