"""The in-memory catalog built chunk by chunk holds what one read of every row gave: same columns, dtypes, values
and order, on SQLite and on PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from microlift.models.contract import TABLES
from microlift.models.features import CREATOR_HISTORY
from microlift.models.vocabulary import tier_of
from microlift.serving import catalog
from tests.serving import test_catalog
from tests.serving.test_catalog import creators

database_url, engine = test_catalog.database_url, test_catalog.engine  # SQLite, and PostgreSQL when given one
TEXT = [c.name for c in TABLES["creators"].columns if c.kind in ("id", "str")]


def snapshot_in_one_read(engine) -> catalog.Snapshot:
    """The catalog as a frame of every row fetched at once, converted column by column (how it was built)."""
    with engine.connect() as conn, conn.begin():
        revision = int(conn.execute(select(catalog.service_state.c.catalog_revision)).scalar_one())
        result = conn.execute(select(catalog.creators).order_by(catalog.creators.c.creator_id))
        frame = pd.DataFrame(result.fetchall(), columns=catalog.COLUMNS)
    for column in TABLES["creators"].columns:
        if column.kind in ("int", "float"):
            frame[column.name] = pd.to_numeric(frame[column.name], errors="coerce").astype(float)
        elif column.kind == "id":
            frame[column.name] = frame[column.name].astype(object)
        elif column.kind == "str":  # repeated text: categories of Python strings
            values = frame[column.name].astype(object)
            frame[column.name] = values.astype(pd.CategoricalDtype(pd.Index(sorted(values.dropna().unique()),
                                                                            dtype=object)))
    for name in CREATOR_HISTORY:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    frame["hist_posts"] = frame["hist_posts"].fillna(0.0)
    frame["track_posts"] = frame["track_posts"].fillna(0.0)
    return catalog.Snapshot(revision, frame, tier_of(frame["followers"].to_numpy()) if len(frame) else np.array([]))


def assert_same_snapshot(built: catalog.Snapshot, expected: catalog.Snapshot) -> None:
    assert built.revision == expected.revision
    assert list(built.creators.columns) == catalog.COLUMNS
    pd.testing.assert_frame_equal(built.creators, expected.creators, check_column_type=False)
    assert built.creators.dtypes.to_dict() == expected.creators.dtypes.to_dict()
    np.testing.assert_array_equal(built.tiers, expected.tiers)
    assert built.tiers.dtype == expected.tiers.dtype
    for name in TEXT:  # Python strings (ids as plain objects, the rest categorical), missing values NaN as before
        values = built.creators[name].to_numpy()
        assert values.dtype == object
        assert all(isinstance(v, str) or (isinstance(v, float) and np.isnan(v)) for v in values), name


@pytest.mark.parametrize("chunk", [1, 7, 50_000])
def test_a_snapshot_read_in_chunks_equals_the_catalog_read_at_once(engine, chunk):
    # given creators with missing countries, prices and history (hist_posts missing on some, track_posts on all)
    frame = creators(60)
    frame.loc[frame.index[::5], ["hist_posts", "hist_log_er_mean"]] = np.nan
    catalog.import_creators(engine, frame.sample(frac=1.0, random_state=3))  # stored out of id order
    expected = snapshot_in_one_read(engine)
    assert expected.creators["country"].isna().any() and expected.creators["price_per_post"].isna().any()

    # when
    built = catalog.snapshot(engine, chunk=chunk)

    # then
    assert_same_snapshot(built, expected)
    assert (built.creators["hist_posts"].to_numpy()[::5] == 0.0).all()
    assert (built.creators["track_posts"].to_numpy() == 0.0).all()
    assert list(built.creators["creator_id"]) == sorted(frame["creator_id"])


def test_repeated_text_shares_one_string_object_per_value(engine):
    catalog.import_creators(engine, creators(200))

    built = catalog.snapshot(engine, chunk=30)

    for name in ("platform", "niche", "country"):
        values = [v for v in built.creators[name] if isinstance(v, str)]
        assert len({id(v) for v in values}) == len(set(values)) <= 3, name


def test_an_empty_catalog_gives_the_same_empty_snapshot(engine):
    assert_same_snapshot(catalog.snapshot(engine), snapshot_in_one_read(engine))
    assert len(catalog.snapshot(engine)) == 0


def test_a_number_sqlite_stored_as_text_reads_as_nan_as_before(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite stores text in a number column")
    catalog.import_creators(engine, creators(12))
    with engine.begin() as conn:  # what another writer than the import could leave behind
        conn.exec_driver_sql("UPDATE creators SET avg_views = 'n/a', hist_log_er_sd = '?' WHERE creator_id = 'c00004'")

    built = catalog.snapshot(engine, chunk=5)

    assert_same_snapshot(built, snapshot_in_one_read(engine))
    row = built.creators.set_index("creator_id").loc["c00004"]
    assert np.isnan(row["avg_views"]) and np.isnan(row["hist_log_er_sd"])


def test_rows_beyond_the_count_grow_the_arrays_and_fewer_rows_shorten_them():
    # the count and the rows are two statements: where the database holds no snapshot, another import may land between
    def rows(start, n):
        return [(f"c{i:05d}", "tiktok", "home", 1_000.0 * (i + 1), *[None] * (len(catalog.COLUMNS) - 4))
                for i in range(start, start + n)]

    more = catalog._CatalogArrays(2)
    more.append(rows(0, 3))
    more.append(rows(3, 4))
    fewer = catalog._CatalogArrays(10)
    fewer.append(rows(0, 4))

    assert list(more.columns()["creator_id"]) == [f"c{i:05d}" for i in range(7)]
    assert list(more.columns()["followers"]) == [1_000.0 * (i + 1) for i in range(7)]
    assert all(len(values) == 4 for values in fewer.columns().values())
