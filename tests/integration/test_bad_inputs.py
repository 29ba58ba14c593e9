"""Every endpoint against a table of bad inputs: each gets its documented status and one problem-details shape
that names the field, and neither the catalog nor the served model changes."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from sqlalchemy import func, select

from microlift.serving import catalog
from microlift.serving.auth import digest
from microlift.serving.openapi import document
from tests.service_support import prepare_home, service_env

pytestmark = pytest.mark.slow
KEY = "bad-input-key"
MAX_BODY = 1_000_000
BRIEF = {"niche": "home", "product_price": 21.0, "baseline_units_per_month": 542}
CREATOR = {"creator_id": "x1", "platform": "instagram", "niche": "home", "followers": 20_000}
JSON = "application/json"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app on a home with trained, promoted models and an imported catalog (the CLI in subprocesses)."""
    from microlift.serving.app import create_app

    home = tmp_path_factory.mktemp("bad-inputs")
    env = service_env(home)
    data = home / "data"
    prepare_home(env, data, 800, 50, 4)
    return create_app({**env, "MICROLIFT_API_KEY_HASHES": digest(KEY), "MICROLIFT_MAX_BODY_BYTES": str(MAX_BODY),
                       "MICROLIFT_RATE_LIMIT": "0"})


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


def forecast(**changes) -> bytes:
    return body(**{"brief": BRIEF, "budget": 2000, "draws": 100, **changes})


def rank(**changes) -> bytes:
    return body(**{"brief": BRIEF, "top_k": 5, **changes})


def csv(*lines: str) -> bytes:
    return "\n".join(lines).encode() + b"\n"


def parquet(**columns) -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame(columns).to_parquet(buffer)
    return buffer.getvalue()


WITH_KEY = {"X-API-Key": KEY}
HEAD = "creator_id,platform,niche,followers"
IMPORT, CSV, PARQUET = "/v1/creators/import", "text/csv", "application/vnd.apache.parquet"
# Bad catalog input that once reached the database: stored out of range (SQLite) or a 500 (PostgreSQL). These need
# no model, and tests/serving/test_catalog.py runs them on both databases too.
CATALOG_CASES = {
    "import csv huge history": ("POST", IMPORT, CSV, csv(HEAD + ",hist_log_er_mean", "h1,tiktok,home,2000,1e308"),
                                WITH_KEY, 422, "row 1.hist_log_er_mean", "between -24 and 10"),
    "import parquet huge history": ("POST", IMPORT, PARQUET, parquet(
        creator_id=["h2"], platform=["tiktok"], niche=["home"], followers=[2000], hist_log_er_mean=[1000.0]),
        WITH_KEY, 422, "row 1.hist_log_er_mean", "between -24 and 10"),
    "import csv negative history count": ("POST", IMPORT, CSV, csv(HEAD + ",hist_posts", "h3,tiktok,home,2000,-1"),
                                          WITH_KEY, 422, "row 1.hist_posts", "between 0 and"),
    "import csv followers 1e30": ("POST", IMPORT, CSV, csv(HEAD, "f1,tiktok,home,1e30"), WITH_KEY, 422,
                                  "row 1.followers", "between 1 and 1e+10"),
    "import csv followers beyond bigint": ("POST", IMPORT, CSV, csv(HEAD, "f2,tiktok,home,10000000000000000000"),
                                           WITH_KEY, 422, "row 1.followers", "between 1 and 1e+10"),
    "import json followers beyond bigint": ("POST", IMPORT, JSON,
                                            json.dumps([{**CREATOR, "followers": 10**19}]).encode(), WITH_KEY, 422,
                                            "[0].followers", "<= 10000000000"),
    "import csv long id": ("POST", IMPORT, CSV, csv(HEAD, "x" * 201 + ",tiktok,home,2000"), WITH_KEY, 422,
                           "row 1.creator_id", "1 to 200 characters"),
    "import csv NUL in id": ("POST", IMPORT, CSV, csv(HEAD, "a\x00b,tiktok,home,2000"), WITH_KEY, 422,
                             "row 1.creator_id", "control characters"),
    "import csv slash in id": ("POST", IMPORT, CSV, csv(HEAD, "a/b,tiktok,home,2000"), WITH_KEY, 422,
                               "row 1.creator_id", "without '/'"),
    "import json slash in id": ("POST", IMPORT, JSON, json.dumps([{**CREATOR, "creator_id": "a/b"}]).encode(),
                                WITH_KEY, 422, "[0].creator_id", "text matching"),
    "import csv dots id": ("POST", IMPORT, CSV, csv(HEAD, "..,tiktok,home,2000"), WITH_KEY, 422, "row 1.creator_id",
                           "not only dots"),
    "import csv long country": ("POST", IMPORT, CSV, csv(HEAD + ",country", "c1,tiktok,home,2000," + "U" * 100),
                                WITH_KEY, 422, "row 1.country", "ISO 3166-1 alpha-2"),
    "import csv 3-letter country": ("POST", IMPORT, CSV, csv(HEAD + ",country", "c2,tiktok,home,2000,usa"),
                                    WITH_KEY, 422, "row 1.country", "ISO 3166-1 alpha-2"),
    "import json 3-letter country": ("POST", IMPORT, JSON, json.dumps([{**CREATOR, "country": "usa"}]).encode(),
                                     WITH_KEY, 422, "[0].country", "at most 2 characters"),
    "import csv unknown column": ("POST", IMPORT, CSV, csv(HEAD + ",follower_count", "u1,tiktok,home,2000,5"),
                                  WITH_KEY, 422, "follower_count", "creator_id, platform, niche, followers"),
    "import csv misspelt column": ("POST", IMPORT, CSV, csv("creator_id,platform,niche,follower_count",
                                                            "u2,tiktok,home,2000"), WITH_KEY, 422, "follower_count",
                                   "creator_id, platform, niche, followers"),
    "get NUL in id": ("GET", "/v1/creators/cr%00x", None, None, {}, 422, "creator_id", "control characters"),
}
CASES = {
    **CATALOG_CASES,
    "rank huge history": ("POST", "/v1/rank", JSON, rank(candidates=[{**CREATOR, "hist_log_er_mean": 1000}]), {},
                          422, "candidates[0].hist_log_er_mean", "<= 10"),
    # name: (method, path, content type, body, headers, status, field named (or None), words in detail/accepted)
    "forecast malformed json": ("POST", "/v1/forecast", JSON, b'{"brief": ', {}, 400, None, "not valid JSON"),
    "forecast wrong content type": ("POST", "/v1/forecast", "text/plain", forecast(), {}, 415, None, JSON),
    "forecast oversize": ("POST", "/v1/forecast", JSON, forecast(pad="x" * MAX_BODY), {}, 413, None, "larger"),
    "forecast NaN budget": ("POST", "/v1/forecast", JSON, forecast().replace(b'"budget": 2000', b'"budget": NaN'),
                            {}, 422, "budget", "finite"),
    "forecast Infinity price": ("POST", "/v1/forecast", JSON,
                                forecast().replace(b'"product_price": 21.0', b'"product_price": -Infinity'),
                                {}, 422, "brief.product_price", "finite"),
    "forecast negative budget": ("POST", "/v1/forecast", JSON, forecast(budget=-1), {}, 422, "budget", ">= 0"),
    "forecast huge budget": ("POST", "/v1/forecast", JSON, forecast(budget=1e300), {}, 422, "budget", "<="),
    "forecast huge integer": ("POST", "/v1/forecast", JSON, forecast(seed=10**40), {}, 422, "seed", "<="),
    "forecast unknown niche": ("POST", "/v1/forecast", JSON, forecast(brief={**BRIEF, "niche": "cars"}), {}, 422,
                               "brief.niche", "beauty, fashion"),
    "forecast unknown platform": ("POST", "/v1/forecast", JSON,
                                  forecast(candidates=[{**CREATOR, "platform": "myspace"}]), {}, 422,
                                  "candidates[0].platform", "instagram, tiktok"),
    "forecast empty candidates": ("POST", "/v1/forecast", JSON, forecast(candidates=[]), {}, 422, "candidates",
                                  "at least 1"),
    "forecast duplicate ids": ("POST", "/v1/forecast", JSON, forecast(candidates=[CREATOR, CREATOR]), {}, 422,
                               "candidates[1].creator_id", "once"),
    "forecast too many draws": ("POST", "/v1/forecast", JSON, forecast(draws=10**6), {}, 422, "draws", "5000"),
    "forecast model path": ("POST", "/v1/forecast", JSON, forecast(model_path="/tmp/evil"), {}, 422,
                            "model_path", "no such field"),
    "forecast model uri in limits": ("POST", "/v1/forecast", JSON, forecast(limits={"model_uri": "runs:/x/m"}),
                                     {}, 422, "limits.model_uri", "no such field"),
    "rank top_k zero": ("POST", "/v1/rank", JSON, rank(top_k=0), {}, 422, "top_k", ">= 1"),
    "rank top_k over": ("POST", "/v1/rank", JSON, rank(top_k=1001), {}, 422, "top_k", "<= 1000"),
    "rank too many candidates": ("POST", "/v1/rank", JSON,
                                 rank(candidates=[{**CREATOR, "creator_id": f"c{i}"} for i in range(10_001)]),
                                 {}, 422, "candidates", "at most 10000"),
    "rank registry uri": ("POST", "/v1/rank", JSON, rank(registry_uri="http://evil"), {}, 422, "registry_uri",
                          "no such field"),
    "rank bool as number": ("POST", "/v1/rank", JSON, rank(top_k=True), {}, 422, "top_k", "whole number"),
    "list limit over": ("GET", "/v1/creators?limit=1001", None, None, {}, 422, "limit", "<= 1000"),
    "list negative followers": ("GET", "/v1/creators?min_followers=-1", None, None, {}, 422, "min_followers",
                                ">= 0"),
    "list unknown platform": ("GET", "/v1/creators?platform=myspace", None, None, {}, 422, "platform[0]",
                              "instagram"),
    "list model uri": ("GET", "/v1/creators?model_uri=models:/x/1", None, None, {}, 422, "model_uri",
                       "no such field"),
    "list unknown tier": ("GET", "/v1/creators?tier=Micro,giga", None, None, {}, 422, "tier[1]",
                          "one of nano, micro, macro, mega"),
    "rank unknown tier in the brief": ("POST", "/v1/rank", JSON, rank(brief={**BRIEF, "tiers": ["Micro", "giga"]}),
                                       {}, 422, "brief.tiers[1]", "one of nano, micro, macro, mega"),
    "rank unknown niche in filters": ("POST", "/v1/rank", JSON, rank(filters={"niches": ["Interior", "cars"]}), {},
                                      422, "filters.niches[1]", "one of beauty, fashion, fitness, food, home"),
    "forecast unknown platform in limits": ("POST", "/v1/forecast", JSON,
                                            forecast(limits={"max_per_platform": {"ig": 2, "myspace": 1}}), {}, 422,
                                            "limits.max_per_platform.myspace", "one of instagram, tiktok, youtube"),
    "forecast two names of one tier in limits": ("POST", "/v1/forecast", JSON,
                                                 forecast(limits={"max_per_tier": {"Micro": 2, "micro": 3}}), {}, 422,
                                                 "limits.max_per_tier", "each tier once"),
    "import json unknown column": ("POST", IMPORT, JSON, json.dumps([{"creator_id": "u3", "platform": "ig",
                                                                      "niche": "home", "follower_count": 5}]).encode(),
                                   WITH_KEY, 422, "[0].follower_count", "did you mean 'followers'?"),
    "get unknown creator": ("GET", "/v1/creators/nobody", None, None, {}, 404, None, "nobody"),
    "import no key": ("POST", "/v1/creators/import", JSON, body(), {}, 401, None, "API key"),
    "import wrong key": ("POST", "/v1/creators/import", JSON, json.dumps([CREATOR]).encode(),
                         {"X-API-Key": "nope"}, 403, None, "not valid"),
    "import malformed json": ("POST", "/v1/creators/import", JSON, b"[{", WITH_KEY, 400, None, "not valid JSON"),
    "import wrong content type": ("POST", "/v1/creators/import", "application/xml", b"<a/>", WITH_KEY, 415, None,
                                  "text/csv"),
    "import NaN followers": ("POST", "/v1/creators/import", JSON, b'[{"creator_id": "n", "platform": "tiktok", '
                             b'"niche": "home", "followers": NaN}]', WITH_KEY, 422, "[0].followers", "whole number"),
    "import unknown niche": ("POST", "/v1/creators/import", JSON, json.dumps([{**CREATOR, "niche": "cars"}]).encode(),
                             WITH_KEY, 422, "[0].niche", "beauty"),
    "import csv unknown platform": ("POST", "/v1/creators/import", "text/csv",
                                    b"creator_id,platform,niche,followers\nz1,myspace,home,100\n", WITH_KEY, 422,
                                    "row 1.platform", "instagram"),
    "import duplicate ids": ("POST", "/v1/creators/import", JSON, json.dumps([CREATOR, CREATOR]).encode(),
                             WITH_KEY, 422, "[1].creator_id", "once"),
    "import empty list": ("POST", "/v1/creators/import", JSON, b"[]", WITH_KEY, 422, "body", "non-empty"),
    "import model path": ("POST", "/v1/creators/import", JSON,
                          json.dumps([{**CREATOR, "model_path": "/tmp/x"}]).encode(), WITH_KEY, 422,
                          "[0].model_path", "unknown column 'model_path'"),  # as in a creators file
    "reload no key": ("POST", "/admin/reload", JSON, b"{}", {}, 401, None, "API key"),
    "reload model uri": ("POST", "/admin/reload", JSON, body(model_uri="models:/evil/1"), WITH_KEY, 422,
                         "model_uri", "no such field"),
    "reload path": ("POST", "/admin/reload", JSON, body(path="/tmp/model"), WITH_KEY, 422, "path",
                    "no such field"),
}


def catalog_state(app) -> tuple[int, int]:
    engine = app.extensions["microlift"].engine
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(catalog.creators)).scalar_one()
    return rows, catalog.read_state(engine).catalog_revision


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_input_gets_its_documented_status_and_changes_nothing(app, name):
    method, path, media, payload, headers, status, field, words = CASES[name]
    client = app.test_client()
    before, models = catalog_state(app), app.extensions["microlift"].bundle.versions
    # when
    answer = client.open(path, method=method, data=payload, headers={**headers, **(
        {"Content-Type": media} if media else {})})
    # then
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    assert answer.content_type == "application/problem+json"
    problem = answer.get_json()
    assert set(problem) == {"type", "title", "status", "detail", "instance", "errors"}
    assert problem["status"] == status and "Traceback" not in answer.get_data(as_text=True)
    assert "::" not in answer.get_data(as_text=True)  # field and message are joined once
    text = problem["detail"] + " ".join(e["accepted"] + " " + e["message"] for e in problem["errors"])
    assert words in text, text
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem["errors"]
    documented = document("test")["paths"][_template(path)][method.lower()]["responses"]
    assert str(status) in documented
    assert catalog_state(app) == before
    assert app.extensions["microlift"].bundle.versions == models


def _template(path: str) -> str:
    path = path.split("?")[0]
    return "/v1/creators/{creator_id}" if path.startswith("/v1/creators/") and path != "/v1/creators/import" \
        else path


@pytest.mark.parametrize(("feature", "row", "words"), [
    ("hist_log_er_mean", {"hist_log_er_mean": 1000.0}, "hist log er mean"),  # e^1000 overflows
    ("log_followers", {"followers": None}, "log followers"),
    ("hist_log_er_mean", {"hist_log_er_mean": -3.0}, "past engagement rate 5.0%"),
])
def test_a_reason_is_words_even_for_a_value_that_cannot_be_formatted(feature, row, words):
    from microlift.models.brief import Brief
    from microlift.models.ranking import _describe

    # given a brief / when a feature's value is put in words / then words come back, never an error
    assert _describe(feature, row, Brief(niche="home", product_price=21.0, baseline_units_per_month=542)) == words
