"""Reading and writing contract datasets: a folder holding creators, posts, campaigns and invitations as CSV or
Parquet."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from microlift.models import features as F
from microlift.models.contract import TABLES, ContractError, Failure, check_references, uninvited_posts, validate

log = logging.getLogger(__name__)

TRUTH_TABLES = ("truth_creators", "truth_posts", "truth_campaigns", "truth_rosters")
FORMATS = ("csv", "parquet")


@dataclass
class Dataset:
    """Validated contract tables (missing optional tables are None) plus any simulator truth tables."""

    creators: pd.DataFrame
    posts: pd.DataFrame | None = None
    campaigns: pd.DataFrame | None = None
    truth: dict[str, pd.DataFrame] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, Path] = field(default_factory=dict)
    invitations: pd.DataFrame | None = None  # who was invited to each campaign and whether they posted

    @classmethod
    def of(cls, tables: dict[str, pd.DataFrame]) -> Dataset:
        """A dataset of tables already in memory (the simulator's: contract tables and truth_* tables)."""
        return cls(tables["creators"], tables.get("posts"), tables.get("campaigns"),
                   {k: v for k, v in tables.items() if k.startswith("truth")}, invitations=tables.get("invitations"))

    def tables(self) -> dict[str, pd.DataFrame]:
        found = {"creators": self.creators, "posts": self.posts, "campaigns": self.campaigns,
                 "invitations": self.invitations}
        return {name: frame for name, frame in found.items() if frame is not None}


def find_table(directory: Path, name: str) -> Path | None:
    """The file (or folder of Parquet parts) holding table `name` in `directory`, if any."""
    for candidate in (directory / f"{name}.parquet", directory / f"{name}.csv", directory / name):
        if candidate.exists():
            return candidate
    return None


def read_raw(path: Path) -> pd.DataFrame:
    """Read a CSV (every value as text, parsed later by the contract) or Parquet file or folder."""
    if path.is_dir() or path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    raise ValueError(f"{path}: unsupported file type {path.suffix!r}; expected .csv or .parquet")


def load_table(path: Path, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Read and validate one contract table. Raises ContractError with every failure."""
    checked = validate(name, read_raw(path), source=path.name)
    return checked.frame, checked.warnings


def load_dataset(directory: str | os.PathLike, require: tuple[str, ...] = ("creators",)) -> Dataset:
    """Load and validate every contract table found in `directory`; all failures are reported together.

    `require`: the tables that must be there; the others are optional (None when absent). Warnings (unknown niches,
    ignored columns, campaign posts by creators not invited) are logged and kept in `Dataset.warnings`.

    The checks across tables (ids naming known creators and campaigns, invitations against posts) run even when a
    table has wrong values: its failing rows are left out of them (`contract.for_cross_checks`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such data folder")
    failures: list[Failure] = []
    frames: dict[str, pd.DataFrame] = {}
    checkable: dict[str, pd.DataFrame] = {}  # every table that can take part in the checks across tables
    unreadable: list[str] = []
    sources: dict[str, Path] = {}
    warnings: list[str] = []
    for name in TABLES:
        path = find_table(directory, name)
        if path is None:
            if name in require:
                failures.append(Failure(str(directory), None, "-", f"(no {name}.csv or {name}.parquet)",
                                        f"a {name} table"))
                unreadable.append(name)  # already a failure: ids naming it are not each another one
            continue
        sources[name] = path
        try:
            frames[name], found = load_table(path, name)
            checkable[name] = frames[name]
            warnings.extend(found)
        except ContractError as exc:
            failures.extend(exc.failures)
            if exc.checkable is not None:
                checkable[name] = exc.checkable
            else:
                unreadable.append(name)
    names = {name: path.name for name, path in sources.items()}
    failures.extend(check_references(checkable, names, unreadable))
    if failures:
        raise ContractError(failures)
    warnings.extend(uninvited_posts(frames, names))
    for message in warnings:
        log.warning(message)
    truth = {}
    for name in TRUTH_TABLES:
        path = find_table(directory, name)
        if path is not None:
            truth[name] = read_raw(path) if path.suffix != ".csv" else pd.read_csv(path)
    return Dataset(frames["creators"], frames.get("posts"), frames.get("campaigns"), truth, warnings, sources,
                   invitations=frames.get("invitations"))


RESULTS_SOURCE = "imported results"


def with_results(dataset: Dataset, results: dict[str, pd.DataFrame]) -> Dataset:
    """The dataset and the campaigns imported and measured in the catalog database, as one dataset to train on.

    `results` holds contract tables (creators, campaigns, posts, invitations) of the measured campaigns, checked
    by the same contract. A creator already in the dataset keeps the dataset's row; a campaign or post id that
    both hold is a failure (two different campaigns cannot share an id), as is any id naming nothing."""
    failures: list[Failure] = []
    frames = dataset.tables()
    sources = {name: dataset.sources[name].name if name in dataset.sources else name for name in frames}
    for name, raw in results.items():
        if raw is None or not len(raw):
            continue
        source = f"{RESULTS_SOURCE} ({name})"
        try:
            checked = validate(name, raw, source=source)
        except ContractError as exc:
            failures.extend(exc.failures)
            continue
        frame = checked.frame
        key = TABLES[name].key
        have = frames.get(name)
        if have is None:
            frames[name], sources[name] = frame, source
            continue
        if name == "creators":
            frame = frame[~frame["creator_id"].isin(have["creator_id"])]
        else:
            keys = [key] if isinstance(key, str) else list(key)
            both = frame.merge(have[keys], on=keys, how="inner")
            for row in both[keys].head(20).itertuples(index=False):
                failures.append(Failure(source, None, ", ".join(keys), tuple(row) if len(keys) > 1 else row[0],
                                        f"ids that the dataset ({sources[name]}) does not already hold"))
        frames[name] = pd.concat([have, frame], ignore_index=True) if len(frame) else have
    failures.extend(check_references(frames, sources))
    if failures:
        raise ContractError(failures)
    return Dataset(frames["creators"], frames.get("posts"), frames.get("campaigns"), dataset.truth,
                   dataset.warnings + uninvited_posts(frames, sources), dataset.sources,
                   invitations=frames.get("invitations"))


def write_tables(tables: dict[str, pd.DataFrame], out: str | os.PathLike, fmt: str = "parquet") -> list[Path]:
    """Write tables into `out` so that no reader ever sees a half-written file.

    Everything is written into a staging folder beside the target first; only when all tables are on disk
    are they moved into place, one atomic rename each.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not supported; expected one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    written = []
    try:
        for name, frame in tables.items():
            path = staging / f"{name}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S", float_format="%.8g")
            else:
                frame.to_parquet(path, index=False)
        for name in tables:
            for other in FORMATS:  # a stale copy in the other format would shadow the new one
                stale = out / f"{name}.{other}"
                if other != fmt and stale.exists():
                    stale.unlink()
            target = out / f"{name}.{fmt}"
            os.replace(staging / f"{name}.{fmt}", target)
            written.append(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def load_candidates(candidates: str | os.PathLike) -> pd.DataFrame:
    """Creators with their history and track record: a creators file, or a dataset folder (creators + posts)."""
    candidates = Path(candidates)
    if candidates.is_dir():
        dataset = load_dataset(candidates)
        creators, posts = dataset.creators, dataset.posts
    else:  # a creators file alone: no history, the models fall back on what the creators table says
        creators, posts = load_table(candidates, "creators")[0], None
    if posts is not None and len(posts):
        creators = F.with_history(creators, F.creator_history(posts, creators))
        creators = F.with_track_record(creators, F.creator_track_record(posts, creators))
    return creators.reset_index(drop=True)
