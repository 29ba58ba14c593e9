"""The creators routes read spellings and columns as the data contract does, whatever the body's format: a
creators file as CSV, Parquet or JSON gives the same catalog, and the same words for what is wrong."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from sqlalchemy import delete, update

from microlift.serving import catalog
from microlift.serving.auth import digest

KEY = "spellings-key"
IMPORT = "/v1/creators/import"
ROWS = [{"creator_id": "s1", "platform": "ig", "niche": "Interior", "followers": 20_000},
        {"creator_id": "s2", "platform": " TikTok ", "niche": "PETS", "followers": 300_000},
        {"creator_id": "s3", "platform": "YT", "niche": "home", "followers": 50_000}]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from microlift.serving.app import create_app

    home = tmp_path_factory.mktemp("spellings")
    url = f"sqlite:///{home / 'catalog.db'}"
    catalog.migrate(url)
    app = create_app({"MICROLIFT_HOME": str(home / "home"), "DATABASE_URL": url,
                      "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
                      "MICROLIFT_API_KEY_HASHES": digest(KEY), "MICROLIFT_SYNC_SECONDS": "0",
                      "MICROLIFT_RATE_LIMIT": "0"})
    yield app
    app.extensions["microlift"].engine.dispose()


@pytest.fixture
def client(app):
    """The app on an empty catalog (each test starts from none; the workers see the new revision)."""
    with app.extensions["microlift"].engine.begin() as conn:
        conn.execute(delete(catalog.creators))
        conn.execute(update(catalog.service_state).values(
            catalog_revision=catalog.service_state.c.catalog_revision + 1))
    return app.test_client()


def send(client, rows: list[dict], media: str):
    frame = pd.DataFrame(rows)
    if media == "text/csv":
        data = frame.to_csv(index=False).encode()
    elif media == "application/vnd.apache.parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        data = buffer.getvalue()
    else:
        data = json.dumps(rows).encode()
    return client.post(IMPORT, data=data, headers={"Content-Type": media, "X-API-Key": KEY})


def catalog_rows(client) -> list[tuple]:
    page = client.get("/v1/creators?limit=100").get_json()["creators"]
    return [(c["creator_id"], c["platform"], c["niche"]) for c in page]


MEDIA = ["text/csv", "application/vnd.apache.parquet", "application/json"]


@pytest.mark.parametrize("media", MEDIA)
def test_an_import_in_any_format_stores_canonical_values(client, media):
    # when
    answer = send(client, ROWS, media)
    # then
    assert answer.status_code == 200, answer.get_json()
    assert catalog_rows(client) == [("s1", "instagram", "home"), ("s2", "tiktok", "pets"),
                                    ("s3", "youtube", "home")]


def test_the_creators_query_reads_spellings_as_the_import_does(client):
    # given
    assert send(client, ROWS, "application/json").status_code == 200
    # when / then: the same creators for each spelling of the same filter
    ids = lambda query: [c["creator_id"] for c in client.get(f"/v1/creators?{query}").get_json()["creators"]]  # noqa: E731
    assert ids("platform=%20TikTok%20,ig") == ids("platform=tiktok,instagram") == ["s1", "s2"]
    assert ids("niche=Interior") == ids("niche=home") == ["s1", "s3"]
    assert ids("tier=Micro") == ids("tier=micro") == ["s1", "s3"]


@pytest.mark.parametrize("media", MEDIA)
def test_an_unknown_column_is_named_with_the_closest_one_in_any_format(client, media):
    # given a creator file with follower_count for followers
    rows = [{k: v for k, v in row.items() if k != "followers"} | {"follower_count": 5} for row in ROWS[:1]]
    # when
    answer = send(client, rows, media)
    # then the unknown column and the missing one are both named, and nothing is stored
    assert answer.status_code == 422
    problem = answer.get_json()
    messages = " | ".join(e["message"] for e in problem["errors"])
    assert "unknown column 'follower_count' (did you mean 'followers'?)" in messages
    assert "follower_count" in problem["errors"][-1]["field"]
    assert "followers" in problem["errors"][0]["field"]
    assert "::" not in json.dumps(problem)
    assert catalog_rows(client) == []


@pytest.mark.parametrize("media", MEDIA)
def test_a_junk_platform_is_refused_in_any_format_with_the_same_accepted_words(client, media):
    answer = send(client, [{**ROWS[0], "platform": "myspace"}], media)
    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert [(e["value"], e["accepted"]) for e in errors] == [("myspace", "one of instagram, tiktok, youtube")]
    assert "::" not in answer.get_data(as_text=True)
