"""Contract datasets on disk: round trips in CSV and Parquet, complete error reports, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from microlift.models.contract import ContractError, Failure
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
        name: f"{name}.{fmt}" for name in CONTRACT_TABLES}
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
    assert dataset.posts is None and dataset.campaigns is None
    assert list(dataset.tables()) == ["creators"]


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
