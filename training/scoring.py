"""Scoring a creator catalog for one campaign brief in this process: `models.candidates.score` on the whole
catalog (`microlift score`'s default engine; `training.distributed.score` does it partition by partition on Dask).

A catalog is a creators table (CSV or Parquet file, or a folder of Parquet parts) or a dataset folder whose posts
give each creator a history and track record, as `microlift rank --candidates` reads it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microlift.models.brief import Brief
from microlift.models.candidates import eligible, score
from microlift.models.datasets import find_table, load_candidates, load_table


def score_creators(creators: pd.DataFrame, brief: Brief, models: dict) -> pd.DataFrame:
    """Each creator's expectations for the campaign (`models.candidates.score`) and whether the brief's
    platforms and tiers admit them (`eligible`)."""
    scored = score(brief, creators, models)
    return scored.assign(eligible=eligible(brief, scored))


def catalog_files(catalog: Path) -> tuple[Path, Path | None]:
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
    creators_path, _ = catalog_files(Path(catalog))
    creators = load_candidates(Path(catalog)) if creators_path != Path(catalog) \
        else load_table(creators_path, "creators")[0]
    return score_creators(creators, brief, models)
