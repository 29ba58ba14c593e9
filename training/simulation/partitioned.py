"""Simulated datasets larger than memory: the market is simulated one slice of creators at a time, and each slice's
creators, posts and per-post truth are written as one Parquet part file (a folder of parts per table).

Each slice is an independent market of `creators / partitions` creators with its share of the campaigns: its
campaigns invite creators of that slice only. Ids are numbered across slices, so the parts together form one
contract dataset; they carry the seed and the number of slices (`s7p4-cr0000012`), which together decide the data.
Only one slice's posts are in memory at a time; campaigns, invitations, rosters and the campaign truth (one row per
campaign or invited creator) are collected and written whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from microlift.models.contract import validate
from microlift.training.simulation.config import DEFAULT, SimulationConfig
from microlift.training.simulation.generator import simulate

PARTED = ("creators", "posts", "truth_creators", "truth_posts")  # one part file per slice
WHOLE = ("campaigns", "invitations", "truth_campaigns", "truth_rosters")  # small: written once, at the end
# id column -> (prefix, digits) as the generator writes them, after the dataset's namespace
IDS = {"creator_id": ("cr", 7), "campaign_id": ("cmp", 5), "post_id": ("p", 8)}


def id_namespace(seed: int, partitions: int) -> str:
    """The prefix of every id in a dataset simulated with `seed` in `partitions` slices ("s7p4-"): not that of
    the same seed simulated whole, whose people differ."""
    return f"s{seed}p{partitions}-"


def _renumber(values: pd.Series, column: str, offset: int, namespace: str) -> pd.Series:
    """Shift a slice's ids (s7p4-cr0000012 in slice 3) to their place in the whole dataset; missing ids stay
    missing."""
    prefix, digits = IDS[column]
    prefix = namespace + prefix
    present = values.notna()
    number = values[present].astype(str).str.slice(len(prefix)).astype(np.int64) + offset
    out = values.astype(object).copy()
    out[present] = (prefix + number.astype(str).str.zfill(digits)).to_numpy()
    return out


def _place(tables: dict[str, pd.DataFrame], offsets: dict[str, int], namespace: str) -> dict[str, pd.DataFrame]:
    placed = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for column, offset in offsets.items():
            if column in frame.columns:
                frame[column] = _renumber(frame[column], column, offset, namespace)
        placed[name] = frame
    return placed


def slices(total: int, parts: int) -> list[int]:
    """Sizes of `parts` slices of `total` that differ by at most one."""
    return [len(s) for s in np.array_split(np.arange(total), parts)]


def simulate_partitioned(n_creators: int, n_campaigns: int, partitions: int, out: str | os.PathLike,
                         seed: int = 0, cfg: SimulationConfig = DEFAULT, progress: bool = True) -> dict[str, int]:
    """Simulate and write a dataset as `partitions` slices; returns the row count of each contract table.

    Deterministic for (seed, partitions). Every table is staged beside `out` and moved into place only when all
    are on disk, replacing any earlier copy of the same table (a single file or a folder of parts).
    """
    if partitions < 1 or n_creators < partitions:
        raise ValueError(f"--partitions: got {partitions}; expected 1 to the number of creators ({n_creators})")
    if 0 < n_campaigns < partitions:
        raise ValueError(f"--partitions: got {partitions}; expected at most the number of campaigns "
                         f"({n_campaigns}), so that every slice runs at least one campaign")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    seeds = np.random.SeedSequence(seed).spawn(partitions)
    namespace = id_namespace(seed, partitions)
    schemas: dict[str, pa.Schema] = {}
    whole: dict[str, list[pd.DataFrame]] = {name: [] for name in WHOLE}
    counts = {"creators": 0, "posts": 0, "campaigns": 0, "invitations": 0}
    offsets = {"creator_id": 0, "campaign_id": 0, "post_id": 0}
    try:
        sizes = zip(slices(n_creators, partitions), slices(n_campaigns, partitions), strict=True)
        for k, (creators, campaigns) in enumerate(tqdm(list(sizes), desc="simulate", unit="part",
                                                       disable=not progress)):
            part_seed = int(seeds[k].generate_state(1)[0])
            tables = _place(simulate(creators, campaigns, seed=part_seed, cfg=cfg, progress=False,
                                     namespace=namespace), offsets, namespace)
            for name in ("creators", "posts"):  # the simulator must honour the contract it feeds
                validate(name, tables[name], source=f"simulated {name}, part {k}")
            for name in PARTED:
                table = pa.Table.from_pandas(tables[name], schema=schemas.get(name), preserve_index=False)
                schemas.setdefault(name, table.schema)
                (staging / name).mkdir(exist_ok=True)
                pq.write_table(table, staging / name / f"part-{k:05d}.parquet")
            for name in WHOLE:
                if name in tables:
                    whole[name].append(tables[name])
            counts["creators"] += len(tables["creators"])
            counts["posts"] += len(tables["posts"])
            counts["campaigns"] += len(tables.get("campaigns", ()))
            counts["invitations"] += len(tables.get("invitations", ()))
            offsets = {"creator_id": offsets["creator_id"] + creators,
                       "campaign_id": offsets["campaign_id"] + campaigns,
                       "post_id": offsets["post_id"] + len(tables["posts"])}
            del tables
        written = list(PARTED)
        for name, frames in whole.items():
            if frames:
                frame = pd.concat(frames, ignore_index=True)
                if name in ("campaigns", "invitations"):  # whole, so ids are unique across slices too
                    validate(name, frame, source=f"simulated {name}")
                frame.to_parquet(staging / f"{name}.parquet", index=False)
                written.append(name)
        for name in written:
            for stale in (out / f"{name}.parquet", out / f"{name}.csv", out / name):
                if stale.is_dir():
                    shutil.rmtree(stale)
                elif stale.exists():
                    stale.unlink()
            source = staging / name if name in PARTED else staging / f"{name}.parquet"
            os.replace(source, out / source.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts
