"""Contract datasets on disk: round trips in CSV and Parquet, complete error reports, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microlift.models.contract import TABLES, ContractError, Failure
from microlift.models.datasets import TRUTH_TABLES, load_dataset, write_tables
from microlift.training.simulation.generator import simulate

CONTRACT_TABLES = ("creators", "posts", "campaigns")


@pytest.fixture(scope="module")
def simulated() -> dict[str, pd.DataFrame]:
    return simulate(60, 3, seed=1, progress=False)


def contract_tables(simulated: dict[str, pd.DataFrame], **replaced: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The three contract tables (copies), with some replaced."""
    tables = {name: simulated[name].copy() for name in CONTRACT_TABLES}
    tables.update(replaced)
    return tables


def invitations_of(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Invitations that agree with the posts: every creator with a post in a campaign (posted) and, per campaign,
    two creators without one there (no content received); a fee on odd rows."""
    posts = tables["posts"]
    made = posts.loc[posts["campaign_id"].notna(), ["campaign_id", "creator_id"]].drop_duplicates()
    rows = []
    for campaign in tables["campaigns"]["campaign_id"]:
        posted = made.loc[made["campaign_id"] == campaign, "creator_id"].tolist()
        others = [c for c in tables["creators"]["creator_id"] if c not in posted][:2]
        rows += [(campaign, c, True) for c in posted] + [(campaign, c, False) for c in others]
    frame = pd.DataFrame(rows, columns=["campaign_id", "creator_id", "posted"])
    return frame.assign(fee=[150.0 if i % 2 else np.nan for i in range(len(frame))])


def with_cells(frame: pd.DataFrame, column: str, cells: dict[int, object]) -> pd.DataFrame:
    """A copy of `frame` with some cells of one column replaced (0-based index -> raw value)."""
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    for index, value in cells.items():
        frame.loc[index, column] = value
    return frame


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def staging_folders(folder: Path) -> list[Path]:
    return list(folder.glob(".staging-*"))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_simulated_dataset_round_trips(simulated, tmp_path, fmt):
    # given a simulated dataset written with write_tables
    written = write_tables(simulated, tmp_path, fmt)

    # when
    dataset = load_dataset(tmp_path)

    # then every table comes back whole, parsed, with its truth tables
    assert sorted(path.name for path in written) == sorted(f"{name}.{fmt}" for name in simulated)
    assert len(dataset.creators) == len(simulated["creators"])
    assert len(dataset.posts) == len(simulated["posts"])
    assert len(dataset.campaigns) == len(simulated["campaigns"])
    assert sorted(dataset.truth) == sorted(TRUTH_TABLES)
    for name in TRUTH_TABLES:
        assert len(dataset.truth[name]) == len(simulated[name])
    assert {name: path.name for name, path in dataset.sources.items()} == {
        name: f"{name}.{fmt}" for name in TABLES if name in simulated}
    assert dataset.warnings == []
    assert pd.api.types.is_numeric_dtype(dataset.creators["followers"])
    assert (dataset.creators["followers"] == simulated["creators"]["followers"]).all()
    assert pd.api.types.is_datetime64_any_dtype(dataset.posts["posted_at"])
    assert (dataset.posts["posted_at"] == simulated["posts"]["posted_at"]).all()


def test_dataset_without_optional_tables_loads(simulated, tmp_path):
    # given only creators
    write_tables({"creators": simulated["creators"]}, tmp_path, "csv")

    # when
    dataset = load_dataset(tmp_path)

    # then
    assert len(dataset.creators) == len(simulated["creators"])
    assert dataset.posts is None and dataset.campaigns is None and dataset.invitations is None
    assert list(dataset.tables()) == ["creators"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_dataset_without_invitations_loads_as_before(simulated, tmp_path, fmt):
    # given creators, posts and campaigns, and no invitations
    write_tables(contract_tables(simulated), tmp_path, fmt)

    # when
    dataset = load_dataset(tmp_path)

    # then the three tables, no invitations and nothing to warn about
    assert dataset.invitations is None
    assert list(dataset.tables()) == list(CONTRACT_TABLES)
    assert sorted(dataset.sources) == sorted(CONTRACT_TABLES)
    assert dataset.warnings == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_invitations_round_trip(simulated, tmp_path, fmt):
    # given the contract tables and invitations, with posted true and false and some fees left empty
    invitations = invitations_of(simulated)
    written = write_tables(contract_tables(simulated, invitations=invitations), tmp_path, fmt)

    # when
    dataset = load_dataset(tmp_path)

    # then the invitations come back whole and parsed, beside the other tables
    assert f"invitations.{fmt}" in [path.name for path in written]
    assert dataset.sources["invitations"].name == f"invitations.{fmt}"
    assert list(dataset.tables()) == [*CONTRACT_TABLES, "invitations"]
    assert dataset.warnings == []
    loaded = dataset.invitations
    assert loaded[["campaign_id", "creator_id"]].values.tolist() == invitations[
        ["campaign_id", "creator_id"]].values.tolist()
    assert loaded["posted"].tolist() == invitations["posted"].tolist()
    assert not loaded["posted"].all() and loaded["posted"].any()
    pd.testing.assert_series_equal(loaded["fee"], invitations["fee"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_invitation_failures_are_listed_together(simulated, tmp_path, fmt):
    # given an invitation of an unknown creator (row 2) and a "no content received" whose creator posted (row 3)
    invitations = invitations_of(simulated)
    assert invitations["posted"].iloc[2]
    campaign, creator = invitations.loc[2, ["campaign_id", "creator_id"]]
    posts = simulated["posts"]
    first = posts.loc[(posts["campaign_id"] == campaign) & (posts["creator_id"] == creator), "post_id"].iloc[0]
    invitations = with_cells(invitations, "creator_id", {1: "cr-ghost"})
    invitations = with_cells(invitations, "posted", {2: False})
    write_tables(contract_tables(simulated, invitations=invitations), tmp_path, fmt)

    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path)

    # then both are listed, each with its file, row, column and value
    assert [(f.file, f.row, f.column, f.value) for f in caught.value.failures] == [
        (f"invitations.{fmt}", 2, "creator_id", "cr-ghost"), (f"invitations.{fmt}", 3, "posted", False)]
    assert caught.value.failures[1].accepted.startswith(f"true: posts.{fmt} holds post {first}")


def test_repeated_invitation_in_a_file_is_refused(simulated, tmp_path):
    # given invitations.csv whose row 4 repeats the pair of row 1
    invitations = invitations_of(simulated)
    pair = invitations.loc[0, ["campaign_id", "creator_id"]].tolist()
    invitations = with_cells(with_cells(invitations, "campaign_id", {3: pair[0]}), "creator_id", {3: pair[1]})
    write_tables(contract_tables(simulated, invitations=invitations), tmp_path, "csv")

    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path)

    # then
    assert [(f.file, f.row, f.column, f.value) for f in caught.value.failures] == [
        ("invitations.csv", 1, "campaign_id, creator_id", tuple(pair)),
        ("invitations.csv", 4, "campaign_id, creator_id", tuple(pair))]


def test_a_post_by_an_uninvited_creator_loads_with_a_warning(simulated, tmp_path, caplog):
    # given invitations that leave out the creator of row 1, who posted in that campaign
    invitations = invitations_of(simulated)
    assert invitations["posted"].iloc[0]
    write_tables(contract_tables(simulated, invitations=invitations.iloc[1:]), tmp_path, "csv")

    # when
    with caplog.at_level("WARNING", logger="microlift.models.datasets"):
        dataset = load_dataset(tmp_path)

    # then everything loads, and the dataset and the log warn about those posts
    assert len(dataset.invitations) == len(invitations) - 1
    assert len(dataset.warnings) == 1
    warning = dataset.warnings[0]
    assert warning.startswith("posts.csv: ") and "not invited to that campaign in invitations.csv" in warning
    assert f"by {invitations.loc[0, 'creator_id']} in {invitations.loc[0, 'campaign_id']}" in warning
    assert warning in caplog.messages


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_dangling_creator_and_campaign_ids_in_posts_are_errors(simulated, tmp_path, fmt):
    # given posts (rows 4 and 8) pointing at a creator and a campaign that do not exist
    posts = with_cells(simulated["posts"], "creator_id", {3: "cr-ghost"})
    posts = with_cells(posts, "campaign_id", {7: "cmp-ghost"})
    write_tables(contract_tables(simulated, posts=posts), tmp_path, fmt)

    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path)

    # then both are named: posts file, row, column, value, and where the id should have been
    assert caught.value.failures == [
        Failure(f"posts.{fmt}", 4, "creator_id", "cr-ghost", f"a creator_id present in creators.{fmt}"),
        Failure(f"posts.{fmt}", 8, "campaign_id", "cmp-ghost", f"a campaign_id present in campaigns.{fmt}"),
    ]


def test_failures_in_different_files_are_reported_together(simulated, tmp_path):
    # given a bad platform in creators.csv and a bad compensation in campaigns.csv
    creators = with_cells(simulated["creators"], "platform", {0: "myspace"})
    campaigns = with_cells(simulated["campaigns"], "compensation", {1: "barter"})
    write_tables(contract_tables(simulated, creators=creators, campaigns=campaigns), tmp_path, "csv")

    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path)

    # then one error lists both, each with its own file
    assert [(f.file, f.row, f.column, f.value) for f in caught.value.failures] == [
        ("creators.csv", 1, "platform", "myspace"),
        ("campaigns.csv", 2, "compensation", "barter"),
    ]
    message = str(caught.value)
    assert message.startswith("2 problem(s)")
    assert "creators.csv row 1" in message and "campaigns.csv row 2" in message


def test_failures_in_csv_and_parquet_files_are_reported_together(simulated, tmp_path):
    # given a bad creators.parquet and a bad posts.csv in the same folder
    write_tables({"creators": with_cells(simulated["creators"], "followers", {2: -1})}, tmp_path, "parquet")
    write_tables({"posts": with_cells(simulated["posts"], "sponsored", {5: "maybe"}),
                  "campaigns": simulated["campaigns"]}, tmp_path, "csv")

    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path)

    # then
    assert [(f.file, f.row, f.column, f.value) for f in caught.value.failures] == [
        ("creators.parquet", 3, "followers", -1),
        ("posts.csv", 6, "sponsored", "maybe"),
    ]


def test_missing_creators_file_is_an_error(simulated, tmp_path):
    # given posts and campaigns but no creators
    write_tables({"posts": simulated["posts"], "campaigns": simulated["campaigns"]}, tmp_path, "csv")

    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path)

    # then the folder is named and the missing table too
    assert len(caught.value.failures) == 1
    failure = caught.value.failures[0]
    assert failure.file == str(tmp_path)
    assert failure.row is None
    assert "creators.csv" in failure.value and "creators.parquet" in failure.value
    assert "creators" in failure.accepted


def test_required_posts_missing_is_an_error(simulated, tmp_path):
    # given
    write_tables({"creators": simulated["creators"]}, tmp_path, "parquet")

    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path, require=("creators", "posts"))

    # then
    assert [(f.file, f.row, f.accepted) for f in caught.value.failures] == [(str(tmp_path), None, "a posts table")]


def test_missing_folder_is_an_error(tmp_path):
    # when / then
    with pytest.raises(FileNotFoundError, match="no such data folder"):
        load_dataset(tmp_path / "nowhere")


def test_csv_export_with_an_empty_optional_format_cell_loads(simulated, tmp_path):
    # given a posts.csv where one post has no format (an optional column)
    posts = with_cells(simulated["posts"], "format", {0: None})
    write_tables(contract_tables(simulated, posts=posts), tmp_path, "csv")

    # when
    dataset = load_dataset(tmp_path)

    # then
    assert pd.isna(dataset.posts["format"].iloc[0])
    assert len(dataset.posts) == len(simulated["posts"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_leaves_no_staging_folder(simulated, tmp_path, fmt):
    # when
    write_tables(contract_tables(simulated), tmp_path, fmt)

    # then
    assert staging_folders(tmp_path) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(f"{name}.{fmt}" for name in CONTRACT_TABLES)


def test_writing_csv_over_parquet_removes_the_stale_parquet(simulated, tmp_path):
    # given an older parquet dataset, and an unrelated file that must survive
    write_tables(contract_tables(simulated), tmp_path, "parquet")
    (tmp_path / "notes.txt").write_text("keep me")
    creators = simulated["creators"].head(10)
    posts = simulated["posts"][simulated["posts"]["creator_id"].isin(creators["creator_id"])]

    # when the same tables are written again, smaller, as csv
    write_tables(contract_tables(simulated, creators=creators, posts=posts), tmp_path, "csv")

    # then only the csv remain and they are what gets loaded
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "campaigns.csv", "creators.csv", "notes.txt", "posts.csv"]
    dataset = load_dataset(tmp_path)
    assert dataset.sources["creators"].suffix == ".csv"
    assert len(dataset.creators) == 10


def test_unsupported_format_is_refused_before_writing(simulated, tmp_path):
    # when / then
    with pytest.raises(ValueError, match="csv, parquet"):
        write_tables(contract_tables(simulated), tmp_path, "xlsx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("existing_fmt", ["csv", "parquet"])
def test_write_failing_midway_leaves_previous_files_untouched(simulated, tmp_path, monkeypatch, existing_fmt):
    # given a folder already holding a dataset
    write_tables(contract_tables(simulated), tmp_path, existing_fmt)
    before = snapshot(tmp_path)
    # and a disk that fails on the second table
    real_to_parquet = pd.DataFrame.to_parquet
    calls = []

    def failing_to_parquet(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_to_parquet(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing_to_parquet)
    newer = contract_tables(simulated, creators=simulated["creators"].head(5))

    # when
    with pytest.raises(OSError, match="disk full"):
        write_tables(newer, tmp_path, "parquet")

    # then the old files are byte-identical, nothing new appeared, no staging folder is left
    assert len(calls) == 2
    assert snapshot(tmp_path) == before
    assert staging_folders(tmp_path) == []
    monkeypatch.undo()
    assert len(load_dataset(tmp_path).creators) == len(simulated["creators"])


def test_checks_across_tables_run_even_when_a_table_has_wrong_values(simulated, tmp_path, capsys):
    # given a wrong platform in creators (row 1) and, in posts, a wrong value (row 3) and a creator nobody knows
    # (row 6); post 3 also names an unknown creator, and post 5 the creator whose row is wrong
    creators = with_cells(simulated["creators"], "platform", {0: "myspace"})
    posts = with_cells(simulated["posts"], "sponsored", {2: "maybe"})
    posts = with_cells(posts, "creator_id", {2: "cr-ghost-2", 4: creators.loc[0, "creator_id"], 5: "cr-ghost"})
    write_tables(contract_tables(simulated, creators=creators, posts=posts), tmp_path, "csv")
    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path)
    # then the values and the reference are all reported: the row with a wrong value is left out of the checks
    # across tables, and the creator with a wrong value is still known to posts
    assert [(f.file, f.row, f.column, f.value) for f in caught.value.failures] == [
        ("creators.csv", 1, "platform", "myspace"),
        ("posts.csv", 3, "sponsored", "maybe"),
        ("posts.csv", 6, "creator_id", "cr-ghost"),
    ]
    # and `microlift validate` reports the same, exit code 1
    from microlift.cli import main

    assert main(["validate", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "3 problem(s)" in err and "posts.csv row 6, column creator_id: got 'cr-ghost'" in err


def test_invitations_are_checked_against_campaigns_when_posts_have_wrong_values(simulated, tmp_path):
    # given posts missing a required column, and an invitation to a campaign that does not exist
    invitations = with_cells(invitations_of(simulated), "campaign_id", {1: "cmp-ghost"})
    posts = simulated["posts"].drop(columns="sponsored")
    write_tables({**contract_tables(simulated, posts=posts), "invitations": invitations}, tmp_path, "csv")
    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path)
    # then both
    assert [(f.file, f.row, f.column, f.value) for f in caught.value.failures] == [
        ("posts.csv", None, "sponsored", "(column missing)"),
        ("invitations.csv", 2, "campaign_id", "cmp-ghost"),
    ]


def test_a_table_without_its_key_column_does_not_make_every_id_naming_it_a_failure(simulated, tmp_path):
    # given creators without creator_id: every post names a creator that cannot be looked up
    creators = simulated["creators"].drop(columns="creator_id")
    write_tables(contract_tables(simulated, creators=creators), tmp_path, "csv")
    # when
    with pytest.raises(ContractError) as caught:
        load_dataset(tmp_path)
    # then one failure: the missing column, not one per post
    assert [(f.file, f.column) for f in caught.value.failures] == [("creators.csv", "creator_id")]
