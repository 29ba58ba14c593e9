"""Batch scoring of a creator catalog for one campaign brief: `models.candidates.score` on every partition.

A catalog is a creators table (CSV or Parquet file, or a folder of Parquet parts) or a dataset folder whose posts
give each creator a history and track record, as `microlift rank --candidates` reads it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microlift.models import features as F
from microlift.models.brief import Brief
from microlift.models.candidates import eligible, score
from microlift.models.datasets import find_table, load_candidates, load_table
from microlift.models.extras import need
from microlift.training.distributed.data import creator_sums, read_table, validated

dask = need("dask", "dask")
dd = need("dask", "dask.dataframe")


def score_creators(creators: pd.DataFrame, brief: Brief, models: dict) -> pd.DataFrame:
    """Each creator's expectations for the campaign (`models.candidates.score`) and whether the brief's
    platforms and tiers admit them (`eligible`)."""
    scored = score(brief, creators, models)
    return scored.assign(eligible=eligible(brief, scored))


def _catalog_files(catalog: Path) -> tuple[Path, Path | None]:
    """(creators table, posts table or None) of a catalog path."""
    creators = find_table(catalog, "creators") if catalog.is_dir() else None
    if creators is None:  # a creators file or a folder of creators parts
        if not catalog.exists():
            raise FileNotFoundError(f"{catalog}: no such catalog (a creators file, a folder of creators Parquet "
                                    "parts, or a dataset folder)")
        return catalog, None
    return creators, find_table(catalog, "posts")


def score_in_process(catalog: str | Path, brief: Brief, models: dict) -> pd.DataFrame:
    """The whole catalog in memory (the default engine, for catalogs that fit)."""
    creators_path, _ = _catalog_files(Path(catalog))
    creators = load_candidates(Path(catalog)) if creators_path != Path(catalog) \
        else load_table(creators_path, "creators")[0]
    return score_creators(creators, brief, models)


def _with_record(creators: pd.DataFrame, history: pd.DataFrame, track: pd.DataFrame) -> pd.DataFrame:
    return F.with_track_record(F.with_history(creators, history), F.per_creator(track)).reset_index(drop=True)


def score_partitioned(catalog: str | Path, brief: Brief, models: dict) -> dd.DataFrame:
    """The catalog's creators scored partition by partition (lazy: write it with `to_parquet`)."""
    creators_path, posts_path = _catalog_files(Path(catalog))
    creators = validated(read_table(creators_path), "creators", creators_path.name)
    if posts_path is not None:
        posts = validated(read_table(posts_path), "posts", posts_path.name)
        history, track = creator_sums(posts, creators[["creator_id", "followers"]].compute())
        shared = [dask.delayed(frame, pure=True) for frame in (history, track)]
        creators = creators.map_partitions(_with_record, *shared,
                                           meta=_with_record(creators._meta, history.head(0), track.head(0)))
    shared_models = dask.delayed(models, pure=True)
    meta = score_creators(creators._meta, brief, models)
    meta = meta.astype({c: "str" for c in meta.columns if meta[c].dtype == object})  # text, as real parts hold
    return creators.map_partitions(score_creators, brief, shared_models, meta=meta)
