"""Partitioned contract datasets on Dask: posts (and per-post truth) stay partitioned; creators, campaigns,
invitations and the per-creator aggregates are small enough to hand whole to every partition.

Model rows are built per partition exactly as `training.prepare.prepare` builds them for the whole table: the
leave-one-out history and track record come from per-creator sums over every partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from microlift.models import features as F
from microlift.models.contract import ContractError, check_references, validate
from microlift.models.datasets import Dataset, find_table, load_table
from microlift.models.extras import need
from microlift.training.prepare import held_out, invitation_rows, post_rows

dask = need("dask", "dask")
dd = need("dask", "dask.dataframe")

FIT, CALIBRATION, TEST = 0, 1, 2  # the grouped split of training.train, one code per row


@dataclass
class Partitioned:
    """A contract dataset with posts as a Dask frame; small tables in memory."""

    creators: pd.DataFrame
    posts: dd.DataFrame
    campaigns: pd.DataFrame | None
    truth: dict[str, pd.DataFrame] = field(default_factory=dict)  # per-campaign truth (small)
    truth_posts: dd.DataFrame | None = None
    sources: dict[str, Path] = field(default_factory=dict)
    invitations: pd.DataFrame | None = None  # who was invited to each campaign and whether they posted

    def dataset(self) -> Dataset:
        """The same dataset as `models.datasets.Dataset` (for its fingerprint); posts stay a Dask frame."""
        posts = read_table(self.sources["posts"])  # counted from the files, not validated a second time
        return Dataset(self.creators, posts, self.campaigns, self.truth, [], self.sources,
                       invitations=self.invitations)

    def small_tables(self) -> dict[str, pd.DataFrame]:
        """The contract tables held whole (creators, campaigns, invitations), by name, as `check_references`
        takes them."""
        found = {"creators": self.creators, "campaigns": self.campaigns, "invitations": self.invitations}
        return {name: frame for name, frame in found.items() if frame is not None}


def read_table(path: Path) -> dd.DataFrame:
    """A CSV file (text, parsed later by the contract), a Parquet file or a folder of Parquet parts."""
    if path.suffix == ".csv":
        return dd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return dd.read_parquet(path)


def _validated_part(part: pd.DataFrame, name: str, source: str, partition_info=None) -> pd.DataFrame:
    where = f"{source} (part {partition_info['number']})" if partition_info else source
    return validate(name, part, source=where).frame


def validated(frame: dd.DataFrame, name: str, source: str) -> dd.DataFrame:
    """Every partition parsed and checked against the contract when it is computed (ContractError if not)."""
    meta = validate(name, frame._meta, source=source).frame
    return frame.map_partitions(_validated_part, name, source, meta=meta)


def load_partitioned(directory: str | Path) -> Partitioned:
    """Creators, campaigns and invitations (optional) validated now, with the references among them; posts
    validated partition by partition as they are read, with their references (`prepare_part`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such data folder")
    sources = {name: find_table(directory, name) for name in ("creators", "posts", "campaigns", "invitations")}
    sources = {name: path for name, path in sources.items() if path is not None}
    for name in ("creators", "posts"):
        if name not in sources:
            raise FileNotFoundError(f"{directory}: no {name} table ({name}.parquet, {name}.csv or a {name}/ "
                                    "folder of Parquet parts)")
    creators = load_table(sources["creators"], "creators")[0]
    campaigns = load_table(sources["campaigns"], "campaigns")[0] if "campaigns" in sources else None
    invitations = load_table(sources["invitations"], "invitations")[0] if "invitations" in sources else None
    posts = validated(read_table(sources["posts"]), "posts", sources["posts"].name)
    truth = {}
    for name in ("truth_campaigns", "truth_rosters"):
        path = find_table(directory, name)
        if path is not None:
            truth[name] = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    path = find_table(directory, "truth_posts")
    truth_posts = read_table(path) if path is not None else None
    data = Partitioned(creators, posts, campaigns, truth, truth_posts, sources, invitations)
    failures = check_references(data.small_tables(), {name: path.name for name, path in sources.items()})
    if failures:
        raise ContractError(failures)
    return data


def _history_part(posts: pd.DataFrame, creators: pd.DataFrame) -> pd.DataFrame:
    return F.creator_history(posts, creators).reset_index()


def _track_part(posts: pd.DataFrame, creators: pd.DataFrame) -> pd.DataFrame:
    return F.campaign_track_record(posts, creators).reset_index().astype({"track_posts": float})


def creator_sums(posts: dd.DataFrame, creators: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Over all partitions: per creator, organic ln-ER count/sum/sum of squares; per creator and campaign, the
    track record (`features.campaign_track_record`)."""
    shared = dask.delayed(creators[["creator_id", "followers"]], pure=True)
    empty = creators[["creator_id", "followers"]].head(0)
    out = []
    for function, keys in ((_history_part, ["creator_id"]), (_track_part, ["creator_id", "campaign_id"])):
        parts = posts.map_partitions(function, shared, meta=function(posts._meta, empty))
        out.append(parts.groupby(keys).sum())
    history, track = dask.compute(*out)
    return history, track


def prepare_part(posts: pd.DataFrame, creators: pd.DataFrame, history: pd.DataFrame, track: pd.DataFrame,
                 campaigns: pd.DataFrame | None, invitations: pd.DataFrame | None = None) -> pd.DataFrame:
    """Model rows of one partition of posts: `training.prepare.prepare`'s rows, from whole-data sums. The
    partition's references are checked first (`contract.check_references`, as `load_dataset` checks them), among
    them invitations marked not posted although this partition holds such posts."""
    tables = {"creators": creators, "posts": posts, "campaigns": campaigns, "invitations": invitations}
    failures = check_references({name: frame for name, frame in tables.items() if frame is not None}, {})
    if failures:
        raise ContractError(failures)
    rows = post_rows(posts, creators, history, track, campaigns)
    rows["split"] = split_codes(rows["creator_id"])
    return rows


def split_codes(ids: pd.Series) -> np.ndarray:
    """FIT, CALIBRATION or TEST per row: `training.train`'s grouped split (20% test, 10% of the rest calibration)."""
    test = held_out(ids)
    calibration = held_out(ids, share=0.1, salt="calibration") & ~test
    return np.where(test, TEST, np.where(calibration, CALIBRATION, FIT)).astype(np.int8)


def prepared(data: Partitioned, sums: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> dd.DataFrame:
    """Every post's model rows (with a `split` column), one partition of posts at a time. `sums`: `creator_sums`
    of the data, when the caller has them already."""
    history, track = sums if sums is not None else creator_sums(data.posts, data.creators)
    small = (data.creators, history, track, data.campaigns, data.invitations)
    shared = [dask.delayed(frame, pure=True) for frame in small]
    meta = prepare_part(data.posts._meta, *(None if frame is None else frame.head(0) for frame in small))
    return data.posts.map_partitions(prepare_part, *shared, meta=meta)


def prepared_invitations(data: Partitioned, history: pd.DataFrame, track: pd.DataFrame) -> pd.DataFrame | None:
    """`training.prepare.invitation_rows` of the whole invitations table, built in this process: one row per
    invited creator, few beside the posts. `history` and `track` are `creator_sums` over every partition. None
    without invitations or campaigns, as `training.prepare.prepare` has it."""
    if data.invitations is None or data.campaigns is None:
        return None
    return invitation_rows(data.invitations, data.creators, history, track, data.campaigns)


def model_frame(rows: pd.DataFrame, kind: str, target: str) -> pd.DataFrame:
    """Feature matrix (columns x0, x1, ... in `features.feature_names(kind)` order), target `y`, `split` and
    `followers` of one partition's rows."""
    names = F.feature_names(kind)
    frame = pd.DataFrame(F.matrix(kind, rows, names), columns=[f"x{j}" for j in range(len(names))],
                         index=rows.index)
    frame["y"] = pd.to_numeric(rows[target]).to_numpy(dtype=float)
    frame["split"] = rows["split"].to_numpy()
    frame["followers"] = pd.to_numeric(rows["followers"]).to_numpy(dtype=float)
    return frame


def conversion_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Campaign posts with observed attributed units (the conversion model's rows)."""
    if "conversions" not in rows.columns or "campaign_niche" not in rows.columns:
        return rows.iloc[:0]
    return rows[rows["campaign_id"].notna() & rows["conversions"].notna()]
