"""Batch scoring of a creator catalog for one campaign brief on Dask: `training.scoring.score_creators` on every
partition (the catalogs of `training.scoring`, read as Dask frames)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microlift.models import features as F
from microlift.models.brief import Brief
from microlift.models.extras import need
from microlift.training.distributed.data import creator_sums, read_table, validated
from microlift.training.scoring import catalog_files, score_creators

dask = need("dask", "dask")
dd = need("dask", "dask.dataframe")


def _with_record(creators: pd.DataFrame, history: pd.DataFrame, track: pd.DataFrame) -> pd.DataFrame:
    return F.with_track_record(F.with_history(creators, history), F.per_creator(track)).reset_index(drop=True)


def score_partitioned(catalog: str | Path, brief: Brief, models: dict) -> dd.DataFrame:
    """The catalog's creators scored partition by partition (lazy: write it with `to_parquet`)."""
    creators_path, posts_path = catalog_files(Path(catalog))
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
