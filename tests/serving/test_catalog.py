"""The creator catalog on SQLite and on PostgreSQL: migrations, all-or-nothing imports, filters, the import route."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from microlift.serving import catalog
from microlift.serving.auth import digest
from microlift.serving.schemas import CatalogFilters
from tests.integration.test_bad_inputs import CATALOG_CASES
from tests.service_support import redis_url

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "creators.csv"
KEY = "test-key"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A fresh, migrated catalog database (SQLite file, or a new PostgreSQL database dropped afterwards)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
        catalog.migrate(url)
        yield url
        return
    base = os.environ.get("MICROLIFT_TEST_DATABASE_URL")
    if not base:
        pytest.skip("set MICROLIFT_TEST_DATABASE_URL to run the PostgreSQL catalog tests")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"catalog_{uuid.uuid4().hex[:12]}"
    server = {k: v for k, v in {"host": url.host, "port": url.port or 5432, "user": url.username,
                                "password": url.password, "dbname": url.database or "postgres"}.items() if v}
    with psycopg.connect(**server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    fresh = url.set(database=name).render_as_string(hide_password=False)
    catalog.migrate(fresh)
    try:
        yield fresh
    finally:
        with psycopg.connect(**server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(database_url):
    engine = catalog.engine_for(database_url)
    yield engine
    engine.dispose()


def creators(n: int, start: int = 0, **overrides) -> pd.DataFrame:
    rng = np.random.default_rng(start)
    frame = pd.DataFrame({
        "creator_id": [f"c{i:05d}" for i in range(start, start + n)],
        "platform": rng.choice(["instagram", "tiktok", "youtube"], n),
        "niche": rng.choice(["home", "beauty", "pets"], n),
        "followers": rng.integers(2_000, 400_000, n),
        "country": rng.choice(["US", "GB", None], n),
        "audience_quality": rng.uniform(0.5, 0.95, n).round(3),
        "price_per_post": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(50, 2000, n).round(0)),
        "hist_posts": rng.integers(0, 40, n).astype(float),
        "hist_log_er_mean": rng.normal(-3.2, 0.5, n),
    })
    return frame.assign(**overrides)


def rows(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(select(catalog.creators).order_by(catalog.creators.c.creator_id)).fetchall(),
                            columns=catalog.COLUMNS)


def test_migrated_schema_matches_the_tables_the_code_uses(engine):
    # given a database migrated by Alembic / when compared with the SQLAlchemy tables / then nothing differs
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), catalog.metadata)
    assert diff == []
    assert catalog.at_head(engine)
    assert catalog.read_state(engine) == catalog.State(0, 0, None)


def test_importing_the_same_creators_twice_gives_the_same_rows(engine):
    first = catalog.import_creators(engine, creators(500))
    before = rows(engine)
    second = catalog.import_creators(engine, creators(500))
    assert (first.created, first.updated, first.unchanged, first.catalog_size) == (500, 0, 0, 500)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 500)
    assert second.revision == first.revision == 1  # nothing changed: workers need not reload
    pd.testing.assert_frame_equal(before, rows(engine))


def test_an_upsert_updates_changed_creators_and_keeps_history_it_was_not_given(engine):
    catalog.import_creators(engine, creators(100))
    changed = creators(100).drop(columns=["hist_posts", "hist_log_er_mean"])
    changed.loc[:9, "followers"] = changed.loc[:9, "followers"] + 1
    result = catalog.import_creators(engine, changed)
    stored = rows(engine)
    assert (result.created, result.updated, result.unchanged, result.revision) == (0, 10, 90, 2)
    np.testing.assert_array_equal(stored["followers"].to_numpy(), changed["followers"].to_numpy())
    np.testing.assert_allclose(stored["hist_log_er_mean"].astype(float), creators(100)["hist_log_er_mean"])


def another_account(frame: pd.DataFrame) -> pd.DataFrame:
    """The same ids, the first three looking like other accounts: a new platform, followers x3, followers / 2.5;
    the fourth grows 1.9x (a real account's growth). No history columns."""
    other = frame.drop(columns=[c for c in catalog.HISTORY if c in frame.columns]).copy()
    other.loc[0, "platform"] = "youtube" if other.loc[0, "platform"] != "youtube" else "tiktok"
    other.loc[1, "followers"] = other.loc[1, "followers"] * 3
    other.loc[2, "followers"] = int(other.loc[2, "followers"] / 2.5)
    other.loc[3, "followers"] = int(other.loc[3, "followers"] * 1.9)
    return other


def test_a_creator_that_looks_like_another_account_keeps_its_history_with_a_warning_given_once(engine):
    # given stored creators with a history
    stored = creators(6, hist_posts=[5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    catalog.import_creators(engine, stored)
    # when a creators file without history gives three of them another platform or a follower count out of scale
    other = another_account(stored)
    result = catalog.import_creators(engine, other)
    # then each of the three is reported with its old and new value, its profile is stored, its history kept
    assert (result.created, result.updated, result.unchanged) == (0, 4, 2)
    assert [w.creator_id for w in result.warnings] == list(stored["creator_id"][:3])
    first, second, third = result.warnings
    assert [(c.field, c.old, c.new) for c in first.changes] == [("platform", stored.loc[0, "platform"],
                                                                 other.loc[0, "platform"])]
    assert [(c.field, c.old, c.new) for c in second.changes] == [("followers", stored.loc[1, "followers"],
                                                                  other.loc[1, "followers"])]
    assert third.changes[0].new < third.changes[0].old / 2
    assert {w.history for w in result.warnings} == {"kept"}
    assert first.history_columns == ("hist_posts", "hist_log_er_mean")
    assert f"{stored.loc[1, 'followers']:,} -> {other.loc[1, 'followers']:,}" in second.message
    assert "stored history" in first.message and "kept" in first.message and "--replace-history" in first.message
    after = rows(engine)
    np.testing.assert_array_equal(after["platform"], other["platform"])
    np.testing.assert_array_equal(after["followers"], other["followers"])
    np.testing.assert_allclose(after["hist_posts"].astype(float), stored["hist_posts"])
    # and importing the same file again changes nothing and warns of nothing: it matches what is stored
    again = catalog.import_creators(engine, other)
    assert (again.updated, again.unchanged, again.warnings, again.revision) == (0, 6, (), result.revision)


def test_no_warning_when_the_file_gives_the_history_or_none_is_stored(engine):
    # given creators stored without history, and some with
    catalog.import_creators(engine, creators(4).drop(columns=["hist_posts", "hist_log_er_mean"]))
    catalog.import_creators(engine, creators(4, start=100))
    # when both change platform, the second with a file that gives every history column they had
    bare = catalog.import_creators(engine, another_account(creators(4)))
    full = catalog.import_creators(engine, another_account(creators(4, start=100)).assign(
        hist_posts=1.0, hist_log_er_mean=-3.0))
    # then nothing stale is kept and nothing is reported
    assert bare.updated == full.updated == 4 and bare.warnings == full.warnings == ()
    assert (rows(engine).set_index("creator_id").loc[creators(4, start=100)["creator_id"], "hist_posts"] == 1).all()


def test_replace_history_clears_or_replaces_the_history_of_those_rows_only(engine):
    # given stored creators with a history of two columns
    stored = creators(6)
    catalog.import_creators(engine, stored)
    # when a file gives three of them as other accounts, with a new hist_posts for the second only
    other = another_account(stored).assign(hist_posts=[np.nan, 2.0, np.nan, 40.0, np.nan, np.nan])
    result = catalog.import_creators(engine, other, replace_history=True)
    # then the first and third are cleared, the second has the file's history, each reported as such
    assert [(w.creator_id, w.history) for w in result.warnings] == [
        (stored.loc[0, "creator_id"], "cleared"), (stored.loc[1, "creator_id"], "replaced"),
        (stored.loc[2, "creator_id"], "cleared")]
    assert "cleared" in result.warnings[0].message and "replaced by the file's (hist_posts" in \
        result.warnings[1].message
    after = rows(engine)
    assert after["hist_log_er_mean"][:3].isna().all() and after["hist_posts"][[0, 2]].isna().all()
    assert after["hist_posts"][1] == 2.0
    # and the other rows keep the stored history the file does not give, and take the one it gives
    np.testing.assert_allclose(after["hist_log_er_mean"][3:].astype(float), stored["hist_log_er_mean"][3:])
    assert after["hist_posts"][3] == 40.0 and after["hist_posts"][4:].isna().all()
    np.testing.assert_array_equal(after["followers"], other["followers"])
    # and the same import again changes nothing and reports nothing
    again = catalog.import_creators(engine, other, replace_history=True)
    assert (again.updated, again.warnings) == (0, ())
    pd.testing.assert_frame_equal(after, rows(engine))


def test_an_import_replacing_history_that_fails_halfway_changes_nothing(engine):
    # given stored creators with a history
    catalog.import_creators(engine, creators(20))
    before, state = rows(engine), catalog.read_state(engine)
    # when a file whose first chunk replaces histories fails in a later chunk
    bad = pd.concat([another_account(creators(20)), creators(1, start=2000, platform=None).drop(
        columns=["hist_posts", "hist_log_er_mean"])], ignore_index=True)
    with pytest.raises(IntegrityError):
        catalog.import_creators(engine, bad, chunk=5, replace_history=True)
    # then no history was cleared and no profile changed
    pd.testing.assert_frame_equal(before, rows(engine))
    assert catalog.read_state(engine) == state


def test_an_import_that_fails_halfway_leaves_the_catalog_as_it_was(engine):
    catalog.import_creators(engine, creators(50))
    before, state = rows(engine), catalog.read_state(engine)
    # a new batch whose last chunk breaks a NOT NULL constraint after earlier chunks were written
    bad = pd.concat([creators(30, start=1000), creators(1, start=2000, platform=None)], ignore_index=True)
    with pytest.raises(IntegrityError):
        catalog.import_creators(engine, bad, chunk=10)
    pd.testing.assert_frame_equal(before, rows(engine))
    assert catalog.read_state(engine) == state


def test_concurrent_imports_leave_every_row_once(engine):
    batches = [creators(300, start=300 * i) for i in range(3)] + [creators(300, start=150)]
    errors = []

    def run(frame):
        try:
            catalog.import_creators(engine, frame, chunk=100)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = rows(engine)
    assert len(stored) == 900 and stored["creator_id"].is_unique
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(catalog.creators)).scalar_one() == 900


def import_together(engine, frames: dict[str, pd.DataFrame], chunk: int) -> dict[str, catalog.ImportResult]:
    """Each frame imported by its own thread, all started at once; each import's result by name."""
    start, results, errors = threading.Barrier(len(frames)), {}, []

    def run(name, frame):
        start.wait()
        try:
            results[name] = catalog.import_creators(engine, frame, chunk=chunk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=item) for item in frames.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_concurrent_imports_end_as_one_after_the_other(engine):
    for attempt in range(2):  # new ids each time: two chances for the imports to interleave
        # given a catalog holding import A: 1000 creators, the first half at version 1, the second at version 3
        a = creators(1000, start=10_000 * attempt)
        a["followers"] = np.where(np.arange(1000) < 500, 10_001, 30_003)
        catalog.import_creators(engine, a)
        revision = catalog.read_state(engine).catalog_revision
        # and import B, which moves every fifth of them (spread over A's ids) to version 2
        b = a.iloc[::5].assign(followers=20_002)
        # when A is imported again beside B, both in small chunks
        results = import_together(engine, {"A": a, "B": b}, chunk=5)
        # then the catalog, the counts and the revisions are those of one import after the other: A then B leaves
        # B's rows at version 2; B then A puts them back to A's versions
        stored = rows(engine).set_index("creator_id").loc[a["creator_id"], "followers"].to_numpy()
        after_b = a["followers"].where(~a["creator_id"].isin(b["creator_id"]), 20_002).to_numpy()
        a_last = results["A"].updated > 0
        assert (stored == (a["followers"].to_numpy() if a_last else after_b)).all(), \
            f"{results}: {np.sum(stored == 20_002)} of B's 200 rows at version 2"
        assert results["B"].updated == 200 and results["A"].updated == (200 if a_last else 0), results
        assert {results["A"].revision, results["B"].revision} == ({revision + 1, revision + 2} if a_last
                                                                  else {revision, revision + 1}), results


def test_snapshot_filters_match_the_rows_they_describe(engine):
    catalog.import_creators(engine, creators(400))
    snap = catalog.snapshot(engine)
    frame = snap.creators
    filters = CatalogFilters(platforms=["instagram", "tiktok"], tiers=["micro"], max_price_per_post=800,
                             min_audience_quality=0.6, countries=["us"])
    keep = catalog.mask(snap, filters)
    expected = (frame["platform"].isin(["instagram", "tiktok"]) & frame["followers"].between(10_000, 99_999)
                & (frame["price_per_post"].isna() | (frame["price_per_post"] <= 800))
                & (frame["audience_quality"] >= 0.6) & (frame["country"] == "US"))
    assert keep.sum() > 0
    np.testing.assert_array_equal(keep, expected.to_numpy())
    assert catalog.mask(snap, None).all() and list(frame["creator_id"]) == sorted(frame["creator_id"])


# --- `microlift import-creators PATH`: as strict as the import route ------------------------------------------

def import_command(database_url, monkeypatch, tmp_path, capsys, path, *flags: str) -> tuple[int, str]:
    """`microlift import-creators PATH FLAGS`: its exit code and stderr."""
    code, _, err = import_command_output(database_url, monkeypatch, tmp_path, capsys, path, *flags)
    return code, err


def import_command_output(database_url, monkeypatch, tmp_path, capsys, path, *flags: str) -> tuple[int, str, str]:
    from microlift.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MICROLIFT_HOME", str(tmp_path / "home"))
    code = main(["import-creators", str(path), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_import_command_prints_each_kept_history_and_replaces_it_when_asked(engine, database_url, monkeypatch,
                                                                               tmp_path, capsys):
    # given a catalog whose creators have a history, and a creators file in which three look like other accounts
    stored = creators(5)
    catalog.import_creators(engine, stored)
    other = another_account(stored)
    path = tmp_path / "creators.csv"
    other.to_csv(path, index=False)
    ids = list(stored["creator_id"])
    # when it is imported
    code, out, err = import_command_output(database_url, monkeypatch, tmp_path, capsys, path)
    # then a line per such creator names it, the old and new value, and that its stored history was kept
    assert code == 0, err
    warned = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert [line.split()[1] for line in warned] == [f"{i}:" for i in ids[:3]]
    assert f"platform {stored.loc[0, 'platform']} -> {other.loc[0, 'platform']}" in warned[0]
    assert f"followers {stored.loc[1, 'followers']:,} -> {other.loc[1, 'followers']:,}" in warned[1]
    assert all("stored history (hist_posts, hist_log_er_mean) was kept" in line and "--replace-history" in line
               for line in warned)
    assert rows(engine)["hist_posts"].notna().all()
    # and the way the warning gives clears the first one's history: its row with empty history columns
    emptied = tmp_path / "emptied.csv"
    other.iloc[:1].assign(hist_posts=np.nan, hist_log_er_mean=np.nan).to_csv(emptied, index=False)
    code, out, err = import_command_output(database_url, monkeypatch, tmp_path, capsys, emptied)
    assert code == 0 and "warning:" not in out, err
    assert rows(engine)[["hist_posts", "hist_log_er_mean"]].iloc[0].isna().all()
    # when the catalog is reset and the file imported with --replace-history
    catalog.import_creators(engine, stored)
    code, out, err = import_command_output(database_url, monkeypatch, tmp_path, capsys, path, "--replace-history")
    # then the same three rows say their history was cleared, and it is
    assert code == 0, err
    assert "warning:" not in out
    cleared = [line for line in out.splitlines() if line.startswith("history: ")]
    assert [line.split()[1] for line in cleared] == [f"{i}:" for i in ids[:3]]
    assert all("stored history was cleared" in line for line in cleared)
    after = rows(engine)
    assert after["hist_posts"][:3].isna().all() and after["hist_posts"][3:].notna().all()


def test_the_import_command_refuses_a_creators_file_out_of_range_naming_each_value(engine, database_url, monkeypatch,
                                                                                   tmp_path, capsys):
    # given a creators file with a misspelt column, followers beyond BIGINT and a history beyond any real one
    path = tmp_path / "creators.csv"
    path.write_text("creator_id,platform,niche,followers,hist_log_er_mean,follower_count\n"
                    "q1,tiktok,home,1e30,1e308,7\nq2,tiktok,home,2000,-3.5,8\n")
    # when
    code, err = import_command(database_url, monkeypatch, tmp_path, capsys, path)
    # then every problem is named and nothing is stored
    assert code == 1
    assert "unknown column 'follower_count' (did you mean 'followers'?)" in err
    assert "row 1, column followers: got '1e30'; expected a whole number between 1 and 1e+10" in err
    assert "row 1, column hist_log_er_mean: got '1e308'" in err
    assert len(rows(engine)) == 0


def test_the_import_command_keeps_the_history_a_creators_file_gives(engine, database_url, monkeypatch, tmp_path,
                                                                    capsys):
    # given a creators file with a history column and a country in small letters
    path = tmp_path / "creators.csv"
    path.write_text("creator_id,platform,niche,followers,country,hist_log_er_mean\nq1,tiktok,home,2000,gb,-3.5\n")
    # when
    code, err = import_command(database_url, monkeypatch, tmp_path, capsys, path)
    # then it is stored as given, the country in capitals as the filters expect
    assert code == 0, err
    stored = rows(engine).iloc[0]
    assert (stored["creator_id"], stored["followers"], stored["country"]) == ("q1", 2000, "GB")
    assert stored["hist_log_er_mean"] == -3.5


def test_the_import_command_refuses_a_history_computed_out_of_range(engine, database_url, monkeypatch, tmp_path,
                                                                   capsys):
    # given the sample dataset where one creator's organic posts have more engagements than there are people,
    # many times over (each post is within the contract, which bounds the creators' numbers only)
    data = tmp_path / "data"
    data.mkdir()
    for name in ("creators", "posts", "campaigns"):
        (data / f"{name}.csv").write_bytes((SAMPLE.parent / f"{name}.csv").read_bytes())
    posts = pd.read_csv(data / "posts.csv", dtype=str, keep_default_na=False)
    organic = posts["campaign_id"] == ""
    posts.loc[organic & (posts["creator_id"] == posts.loc[organic, "creator_id"].iloc[0]), "engagements"] = str(10**15)
    posts.to_csv(data / "posts.csv", index=False)
    # when
    code, err = import_command(database_url, monkeypatch, tmp_path, capsys, data)
    # then the creator whose history it is, is named; nothing is stored
    assert code == 1
    assert "column hist_log_er_mean" in err and "between -24 and 10" in err
    assert len(rows(engine)) == 0


# --- the import route, through the app (no model needed for catalog routes) ------------------------------------

@pytest.fixture
def client(database_url, tmp_path):
    from microlift.serving.app import create_app

    app = create_app({"MICROLIFT_HOME": str(tmp_path / "home"), "DATABASE_URL": database_url,
                      "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
                      "MICROLIFT_API_KEY_HASHES": digest(KEY), "MICROLIFT_SYNC_SECONDS": "0"})
    yield app.test_client()
    app.extensions["microlift"].engine.dispose()


def total(client) -> int:
    return client.get("/v1/creators?limit=1").json["total"]


def test_only_api_routes_read_the_shared_state(client, monkeypatch):
    # given a count of the worker's checks of the shared state
    runtime = client.application.extensions["microlift"]
    calls = []
    monkeypatch.setattr(runtime, "sync", lambda: calls.append(1))
    # when operations routes, then API routes are called
    for path in ("/healthz", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200
    quiet = len(calls)
    client.get("/v1/creators")
    client.get("/readyz")
    # then only the API and readiness routes checked it
    assert quiet == 0 and len(calls) == 2


def test_a_worker_reads_the_shared_state_again_only_when_a_commit_may_have_changed_it(client, database_url, tmp_path,
                                                                                     monkeypatch):
    from microlift.serving import runtime as runtime_module
    from microlift.serving.app import create_app

    # given: a worker that has read the shared state, a count of its reads from now on, and a second worker (a
    # second app: its own engine and connections) on the same database
    monkeypatch.setattr(runtime_module, "_QUIET_SECONDS", 3600.0)  # no read for the time that passed alone
    other = create_app({"MICROLIFT_HOME": str(tmp_path / "other"), "DATABASE_URL": database_url,
                        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
                        "MICROLIFT_API_KEY_HASHES": digest(KEY), "MICROLIFT_SYNC_SECONDS": "0"})
    assert total(client) == 0
    reads = []
    read = catalog.read_state
    monkeypatch.setattr(catalog, "read_state", lambda engine: reads.append(1) or read(engine))
    try:
        # when: requests come with nothing committed
        for _ in range(5):
            assert total(client) == 0
        quiet = len(reads)
        # and the second worker imports creators
        imported = other.test_client().post("/v1/creators/import", data=SAMPLE.read_bytes(),
                                            headers={"Content-Type": "text/csv", "X-API-Key": KEY})
        assert imported.status_code == 200
        reads.clear()
        # then: the first worker's next request sees them. SQLite says when nothing was committed, so a quiet
        # worker reads nothing; another database is read on every request
        assert total(client) == 300
        assert reads == [1]
        assert quiet == (0 if database_url.startswith("sqlite") else 5)
    finally:
        other.extensions["microlift"].engine.dispose()


def test_the_import_route_takes_a_contract_csv_and_is_idempotent(client):
    body = SAMPLE.read_bytes()
    headers = {"Content-Type": "text/csv", "X-API-Key": KEY}
    first = client.post("/v1/creators/import", data=body, headers=headers)
    second = client.post("/v1/creators/import", data=body, headers=headers)
    assert first.status_code == 200 and first.json["created"] == 300
    assert second.status_code == 200 and second.json["unchanged"] == 300 and second.json["created"] == 0
    assert first.json["warnings"] == second.json["warnings"] == []
    assert total(client) == 300
    one = pd.read_csv(SAMPLE, dtype=str).iloc[1]
    found = client.get(f"/v1/creators/{one['creator_id']}")
    assert found.status_code == 200 and found.json["platform"] == one["platform"]


def test_the_import_route_warns_of_kept_history_and_replaces_it_with_replace_history(client):
    # given a catalog whose creators have a history
    headers = {"X-API-Key": KEY}
    stored = creators(5)
    assert client.post("/v1/creators/import", json=_plain_json(stored), headers=headers).status_code == 200
    other = another_account(stored)
    body = other.to_csv(index=False).encode()
    csv = {**headers, "Content-Type": "text/csv"}
    # when a file without history in which three look like other accounts is imported
    kept = client.post("/v1/creators/import", data=body, headers=csv)
    # then the answer's warnings name each, with the old and new values, and say the history was kept
    assert kept.status_code == 200, kept.json
    warnings = kept.json["warnings"]
    assert [(w["creator_id"], w["history"]) for w in warnings] == [(i, "kept") for i in stored["creator_id"][:3]]
    assert warnings[0]["changes"] == [{"field": "platform", "old": stored.loc[0, "platform"],
                                       "new": other.loc[0, "platform"]}]
    assert warnings[1]["changes"] == [{"field": "followers", "old": int(stored.loc[1, "followers"]),
                                       "new": int(other.loc[1, "followers"])}]
    assert warnings[0]["history_columns"] == ["hist_posts", "hist_log_er_mean"]
    assert "replace_history=true" in warnings[0]["message"]
    assert client.get(f"/v1/creators/{stored.loc[0, 'creator_id']}").json["hist_posts"] == stored.loc[0, "hist_posts"]
    # when the stored creators are restored and the file sent again with replace_history=true
    client.post("/v1/creators/import", json=_plain_json(stored), headers=headers)
    replaced = client.post("/v1/creators/import?replace_history=true", data=body, headers=csv)
    # then the same rows say their history was cleared, and it is; sent once more, nothing changes
    assert [(w["creator_id"], w["history"]) for w in replaced.json["warnings"]] == [
        (i, "cleared") for i in stored["creator_id"][:3]]
    assert client.get(f"/v1/creators/{stored.loc[0, 'creator_id']}").json["hist_posts"] is None
    again = client.post("/v1/creators/import?replace_history=true", data=body, headers=csv).json
    assert (again["updated"], again["warnings"]) == (0, [])


def test_a_replace_history_that_is_not_a_boolean_is_a_422_naming_it_and_changes_nothing(client):
    good = [{"creator_id": "a", "platform": "tiktok", "niche": "pets", "followers": 12000}]
    answer = client.post("/v1/creators/import?replace_history=maybe", json=good, headers={"X-API-Key": KEY})
    assert answer.status_code == 422 and answer.json["errors"][0]["field"] == "replace_history"
    assert total(client) == 0
    parameters = client.get("/openapi.json").json["paths"]["/v1/creators/import"]["post"]["parameters"]
    documented = {p["name"]: p["schema"] for p in parameters}
    assert "cleared when the file has none" in documented["replace_history"]["description"]


def _plain_json(frame: pd.DataFrame) -> list[dict]:
    """Creators as a JSON import body (no NaN: missing values left out)."""
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items() if pd.notna(v)}
            for row in frame.to_dict("records")]


def test_a_csv_with_one_bad_row_is_refused_whole_naming_row_column_and_value(client):
    lines = SAMPLE.read_text().splitlines()
    header = lines[0].split(",")
    bad = lines[5].split(",")
    bad[header.index("followers")] = "-5"
    body = "\n".join([lines[0], *lines[1:5], ",".join(bad), *lines[6:]]).encode()
    answer = client.post("/v1/creators/import", data=body, headers={"Content-Type": "text/csv", "X-API-Key": KEY})
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    error = answer.json["errors"][0]
    assert error["field"] == "row 5.followers" and error["value"] == "-5" and "between 1 and" in error["accepted"]
    assert total(client) == 0


def test_a_json_import_with_a_duplicate_id_or_a_wrong_key_changes_nothing(client):
    good = [{"creator_id": "a", "platform": "tiktok", "niche": "pets", "followers": 12000},
            {"creator_id": "b", "platform": "youtube", "niche": "home", "followers": 90000, "hist_posts": 3}]
    duplicate = client.post("/v1/creators/import", json=good + [good[0]], headers={"X-API-Key": KEY})
    no_key = client.post("/v1/creators/import", json=good)
    wrong_key = client.post("/v1/creators/import", json=good, headers={"Authorization": "Bearer nope"})
    assert duplicate.status_code == 422 and duplicate.json["errors"][0]["field"] == "[2].creator_id"
    assert no_key.status_code == 401 and no_key.headers["WWW-Authenticate"] == "Bearer"
    assert wrong_key.status_code == 403
    assert total(client) == 0
    ok = client.post("/v1/creators/import", json=good, headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200 and ok.json["created"] == 2 and total(client) == 2
    listed = client.get("/v1/creators?platform=youtube,tiktok&niche=home").json
    assert [c["creator_id"] for c in listed["creators"]] == ["b"] and listed["creators"][0]["hist_posts"] == 3


def test_bad_catalog_input_is_a_422_naming_the_field_and_changes_nothing(client):
    # given a catalog with one creator
    seed = [{"creator_id": "kept", "platform": "tiktok", "niche": "pets", "followers": 12000}]
    assert client.post("/v1/creators/import", json=seed, headers={"X-API-Key": KEY}).status_code == 200
    revision = catalog.read_state(client.application.extensions["microlift"].engine).catalog_revision
    wrong = []
    for name, (method, path, media, payload, headers, status, field, words) in CATALOG_CASES.items():
        # when each bad input is sent (tests/integration/test_bad_inputs.py's table)
        headers = {**({"X-API-Key": KEY} if headers else {}), **({"Content-Type": media} if media else {})}
        answer = client.open(path, method=method, data=payload, headers=headers)
        # then the status and the field are as documented, never a 500
        problem = answer.get_json(silent=True) or {}
        named = [e["field"] for e in problem.get("errors", [])]
        said = " ".join(e["accepted"] for e in problem.get("errors", []))
        if answer.status_code != status or field not in named or words not in said:
            wrong.append(f"{name}: {answer.status_code} {named} {problem.get('detail', '')[:200]}")
    assert wrong == []
    # and the catalog is as it was
    assert total(client) == 1
    assert catalog.read_state(client.application.extensions["microlift"].engine).catalog_revision == revision


# --- rate limit ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("store", ["memory", "redis"])
def test_too_many_requests_from_one_key_get_429_with_retry_after(tmp_path, store, redis_prefix):
    from microlift.serving.app import create_app

    env = {"MICROLIFT_HOME": str(tmp_path / "home"), "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "MICROLIFT_RATE_LIMIT": "5",
           "MICROLIFT_API_KEY_HASHES": digest(KEY)}
    if store == "redis":
        env["REDIS_URL"] = redis_url()
    app = create_app(env)
    app.extensions["microlift.limiter"].prefix = redis_prefix
    client = app.test_client()
    if 60 - time.time() % 60 < 5:  # the count runs per clock minute: start well inside one
        time.sleep(60 - time.time() % 60 + 0.1)
    codes = [client.get("/v1/creators", headers={"X-API-Key": KEY}).status_code for _ in range(7)]
    other = client.get("/v1/creators", headers={"X-API-Key": "someone-else"})
    assert codes == [200] * 5 + [429] * 2
    limited = client.get("/v1/creators", headers={"X-API-Key": KEY})
    assert limited.content_type == "application/problem+json" and 1 <= int(limited.headers["Retry-After"]) <= 61
    assert other.status_code == 200  # a key the service does not know is counted by address
    assert client.get("/healthz").status_code == 200  # operations routes are never limited
