"""The service end to end: `microlift serve` (gunicorn, two workers) on a home prepared through the command line,
spoken to over real HTTP. Every answer is also checked against the schema the served /openapi.json declares."""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator
from prometheus_client.parser import text_string_to_metric_families
from referencing.exceptions import Unresolvable

from microlift.models.settings import MODEL_KINDS
from microlift.serving.auth import digest
from tests.service_support import Api, OpenAPI, free_port, microlift, prepare_home, registered, service_env, serving

pytestmark = [pytest.mark.service, pytest.mark.slow]

KEY = "test-" + uuid.uuid4().hex
MAX_BODY = 200_000
BRIEF = {"niche": "home", "product_price": 21.0, "baseline_units_per_month": 542.0, "marketplace": "amazon"}
BANDS = ("engagements", "attributed_units", "incremental_revenue", "cost", "net_revenue", "roas")
KINDS = ("engagement", "conversion", "lift", "version_set")


class Service:
    """The running service, how it was set up, and the version set it was started with."""

    def __init__(self, api: Api, env: dict[str, str], data: Path, first: dict[str, str]):
        self.api, self.env, self.data, self.first = api, env, data, first


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Service:
    """A simulated catalog imported, models trained, registered and promoted, then gunicorn until the module ends."""
    root = tmp_path_factory.mktemp("service")
    env = service_env(root / "home", MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="2",
                      MICROLIFT_THREADS="4", MICROLIFT_SYNC_SECONDS="0", MICROLIFT_MAX_BODY_BYTES=str(MAX_BODY),
                      MICROLIFT_API_KEY_HASHES=digest(KEY), MICROLIFT_RATE_LIMIT="0")
    data = root / "data"
    prepare_home(env, data, 2000, 80, 3)
    first, _ = registered(env)
    with serving(env, root / "serve.log", cwd=root) as base:
        openapi = OpenAPI(requests.get(base + "/openapi.json", timeout=10).json())
        yield Service(Api(base, KEY, openapi), env, data, first)


@pytest.fixture
def api(service) -> Api:
    return service.api


def serving_models(api: Api) -> dict[str, str]:
    return api.get("/version").json()["models"]


def same_set(models: dict[str, str], expected: dict[str, str]) -> bool:
    return all(models[k] == expected[k] for k in KINDS)


def assert_bands_ordered(band: dict, where: str) -> None:
    assert band["p10"] <= band["p50"] <= band["p90"], f"{where}: {band}"


def catalog_rows(api: Api, limit: int, **query) -> list[dict]:
    return api.get("/v1/creators", params={"limit": limit, **query}).json()["creators"]


def fresh(rows: list[dict], prefix: str) -> list[dict]:
    """Copies of catalog creators under ids the catalog does not hold."""
    tag = uuid.uuid4().hex[:8]
    return [{**row, "creator_id": f"{prefix}-{tag}-{i}"} for i, row in enumerate(rows)]


def catalog_total(api: Api) -> int:
    return api.get("/v1/creators", params={"limit": 1}).json()["total"]


def problem(response: requests.Response, status: int) -> dict:
    """The problem details of an error answer (RFC 9457), checked for shape."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].split(";")[0] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(body), body
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


# --- planning: rank and forecast ------------------------------------------------------------------------------

def test_rank_over_catalog_filters_keeps_only_matching_creators_ordered_by_profit(service, api):
    # given filters on platform, tier, followers and price
    filters = {"platforms": ["instagram", "tiktok"], "tiers": ["micro", "macro"], "min_followers": 10_000,
               "max_price_per_post": 2_000.0}
    # when
    response = api.post("/v1/rank", json={"brief": BRIEF, "filters": filters, "top_k": 25})
    # then
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    listed = api.get("/v1/creators", params={"platform": "instagram,tiktok", "tier": ["micro", "macro"],
                                             "min_followers": 10_000, "max_price_per_post": 2_000}).json()
    assert body["candidates"] == listed["total"] > 25
    assert [c["rank"] for c in body["creators"]] == list(range(1, 26))
    for creator in body["creators"]:
        assert creator["platform"] in filters["platforms"] and creator["tier"] in filters["tiers"], creator
        assert creator["followers"] >= 10_000
        assert creator["reasons"], creator
        for band in BANDS:
            assert_bands_ordered(creator[band], f"{creator['creator_id']}.{band}")
    values = [c["net_revenue"]["mean"] for c in body["creators"]]  # no margin: ranked by net revenue
    assert all(a >= b - 0.01 for a, b in zip(values, values[1:], strict=False)), values
    assert same_set(body["models"], serving_models(api))


def test_rank_of_inline_candidates_answers_for_exactly_those_creators(service, api):
    # given three creators that are not in the catalog
    candidates = fresh(catalog_rows(api, 3, niche="home"), "inline")
    # when
    response = api.post("/v1/rank", json={"brief": BRIEF, "candidates": candidates, "objective": "conversions"})
    # then
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["candidates"] == 3 and body["objective"] == "attributed_units"  # its older name, still accepted
    assert {c["creator_id"] for c in body["creators"]} <= {c["creator_id"] for c in candidates}
    assert body["creators"], "no inline candidate was ranked"
    for creator in body["creators"]:
        for band in BANDS:
            assert_bands_ordered(creator[band], f"{creator['creator_id']}.{band}")


def test_forecast_fits_the_budget_and_curves_from_a_quarter_to_four_times_it(service, api):
    # given a budget
    budget = 5_000.0
    # when
    response = api.post("/v1/forecast", json={"brief": BRIEF, "budget": budget, "draws": 200,
                                               "filters": {"platforms": ["instagram", "tiktok", "youtube"]}})
    # then
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    roster = body["roster"]
    assert roster["creators"], "an empty roster for a 5,000 USD budget"
    assert roster["total_cost"] <= budget
    assert math.isclose(sum(c["cost"] for c in roster["creators"]), roster["total_cost"], rel_tol=1e-6)
    assert body["budget"] == budget and body["forecast"]["draws"] == 200
    for name, band in body["forecast"].items():
        if isinstance(band, dict):
            assert_bands_ordered(band, f"forecast.{name}")
    curve = body["budget_curve"]
    budgets = [point["budget"] for point in curve]
    assert len(curve) >= 8 and budgets == sorted(budgets), budgets
    assert math.isclose(budgets[0], budget / 4, rel_tol=1e-6) and math.isclose(budgets[-1], budget * 4, rel_tol=1e-6)
    assert any(math.isclose(b, budget, rel_tol=1e-6) for b in budgets), budgets
    for point in curve:
        assert_bands_ordered(point["incremental_units_per_month"], f"curve at {point['budget']}")
        assert_bands_ordered(point["incremental_revenue"], f"curve at {point['budget']}")
        assert point["expected_cost"] <= point["budget"] + 1e-6, point
    assert same_set(body["models"], serving_models(api))


def test_models_name_the_versions_registered_under_the_alias(service, api):
    # given the champion versions that `microlift models` lists
    expected, _ = registered(service.env)
    # when
    answered = [api.get("/readyz").json()["models"], api.get("/version").json()["models"],
                api.post("/v1/rank", json={"brief": BRIEF, "top_k": 1}).json()["models"]]
    # then
    for models in answered:
        assert same_set(models, expected) and models["alias"] == "champion", (models, expected)


# --- the OpenAPI document -------------------------------------------------------------------------------------

def test_the_workers_predict_with_boosters_compiled_once_into_the_home(service, api):
    # given a service that has answered
    assert api.post("/v1/rank", json={"brief": BRIEF, "filters": {}, "top_k": 3}).status_code == 200
    # then: every model's booster was compiled into the home's cache, one object file each, shared by both workers
    compiled = Path(service.env["MICROLIFT_HOME"]) / "compiled"
    assert len(list(compiled.glob("*.o"))) == len(MODEL_KINDS)
    assert "LightGBM predicts" not in (Path(service.env["MICROLIFT_HOME"]).parent / "serve.log").read_text()


def test_openapi_document_is_well_formed_and_every_ref_resolves(api):
    # given the served document
    doc = api.openapi.document
    resolver = api.openapi.registry.resolver()
    # then
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"] and doc["info"]["version"]
    refs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs, "the document uses no $ref at all"
    for ref in set(refs):
        try:
            resolver.lookup(f"urn:microlift:openapi{ref}")
        except Unresolvable as exc:
            pytest.fail(f"{ref} does not resolve: {exc}")
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises SchemaError naming what is wrong
    operation_ids = []
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            assert operation["responses"], f"{method} {path} declares no responses"
            assert any(code.startswith("2") for code in operation["responses"]), f"{method} {path}"
            operation_ids.append(operation["operationId"])
    assert len(operation_ids) == len(set(operation_ids))
    for route in ("/v1/rank", "/v1/forecast", "/v1/creators", "/v1/creators/{creator_id}", "/v1/creators/import",
                  "/admin/reload", "/healthz", "/readyz", "/version", "/metrics", "/openapi.json", "/docs"):
        assert route in doc["paths"], f"{route} is missing from the document"


def test_openapi_document_validates_against_its_own_declaration(api):
    api.get("/openapi.json")


def test_the_validator_refuses_a_body_the_document_does_not_allow(api):
    # given a real rank answer, altered the way a server bug would alter it
    response = api.post("/v1/rank", json={"brief": BRIEF, "top_k": 1})
    body = response.json()
    validator = api.openapi.validator("paths", "/v1/rank", "post", "responses", "200", "content",
                                      "application/json", "schema")
    assert validator.is_valid(body)
    # then an unknown field, a missing band and a string rank are all refused
    assert not validator.is_valid({**body, "surprise": 1})
    broken = json.loads(response.text)
    del broken["creators"][0]["net_revenue"]
    assert not validator.is_valid(broken)
    broken = json.loads(response.text)
    broken["creators"][0]["rank"] = "1"
    assert not validator.is_valid(broken)


def test_every_documented_status_seen_here_validates(service, api):
    """Successes and problems of each route, each checked by Api.call against its declared schema."""
    row = catalog_rows(api, 1)[0]
    answers = [
        api.get("/healthz"), api.get("/readyz"), api.get("/version"), api.get("/metrics"), api.get("/docs"),
        api.get("/v1/creators", params={"limit": 2, "niche": "pets"}),
        api.get("/v1/creators", params={"limit": 0}),
        api.get(f"/v1/creators/{row['creator_id']}"), api.get("/v1/creators/no-such-creator"),
        api.post("/v1/rank", json={"brief": BRIEF, "top_k": 3}),
        api.post("/v1/rank", data=b"[", headers={"Content-Type": "application/json"}),
        api.post("/v1/forecast", json={"brief": BRIEF, "budget": 1_000, "draws": 100}),
        api.post("/v1/forecast", json={"brief": BRIEF}),
        api.post("/v1/creators/import", json=[row]),
        api.admin("/v1/creators/import", json=[{**row, "followers": -1}]),
        api.post("/admin/reload", json={}, headers={"X-API-Key": "wrong"}),
    ]
    assert [a.status_code for a in answers] == [200] * 6 + [422, 200, 404, 200, 400, 200, 422, 401, 422, 403]


# --- errors ---------------------------------------------------------------------------------------------------

def _body(**changes) -> bytes:
    return json.dumps({"brief": BRIEF, "top_k": 5, **changes}).encode()


def _duplicated_candidates() -> bytes:
    row = {"creator_id": "dup", "platform": "instagram", "niche": "home", "followers": 20_000, "following": 300,
           "posts_count": 200, "country": "US", "avg_views": 4_000.0, "audience_quality": 0.8,
           "sponsored_share": 0.1, "price_per_post": 200.0, "posts_per_week": 2.0}
    return _body(candidates=[row, {**row, "followers": 30_000}])


ERRORS = {
    # name: (content type, body, status, field named, words the detail or accepted must hold)
    "malformed-json": ("application/json", b'{"brief": {"niche": ', 400, None, "not valid JSON"),
    "wrong-content-type": ("text/plain", _body(), 415, None, "application/json"),
    "form-content-type": ("application/x-www-form-urlencoded", b"top_k=5", 415, None, "application/json"),
    "body-too-large": ("application/json", _body(padding="x" * MAX_BODY), 413, None, "200,000"),
    "unknown-field": ("application/json", _body(colour="red"), 422, "colour", "no such field"),
    "unknown-brief-field": ("application/json", json.dumps({"brief": {**BRIEF, "colour": 1}}).encode(), 422,
                            "brief.colour", "no such field"),
    "unknown-niche": ("application/json", json.dumps({"brief": {**BRIEF, "niche": "spaceships"}}).encode(), 422,
                      "brief.niche", "beauty"),
    "nan-number": ("application/json", json.dumps({"brief": BRIEF}).replace("21.0", "NaN").encode(), 422,
                   "brief.product_price", "finite"),
    "infinite-number": ("application/json", _body().replace(b'"top_k": 5', b'"budget": Infinity'), 422,
                        "budget", "finite"),
    "top-k-too-large": ("application/json", _body(top_k=1001), 422, "top_k", "1000"),
    "duplicate-candidates": ("application/json", _duplicated_candidates(), 422, "candidates[1].creator_id",
                             "once"),
    "empty-candidates": ("application/json", _body(candidates=[]), 422, "candidates", "at least 1"),
    "missing-brief": ("application/json", b"{}", 422, "brief", "required"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_bad_requests_are_problem_details_naming_the_field(api, name):
    # given a bad request
    media, body, status, field, words = ERRORS[name]
    # when
    response = api.post("/v1/rank", data=body, headers={"Content-Type": media})
    # then it is a problem answer that says what was wrong and where
    found = problem(response, status)
    assert found["instance"] == "/v1/rank"
    text = found["detail"] + " ".join(e["accepted"] + e["message"] for e in found["errors"])
    assert words in text, found
    if field is not None:
        assert found["errors"] and found["errors"][0]["field"] == field, found
        assert field in found["detail"], found


def test_unknown_niche_lists_every_accepted_niche(api):
    # when
    response = api.post("/v1/rank", json={"brief": {**BRIEF, "niche": "spaceships"}})
    # then
    error = problem(response, 422)["errors"][0]
    assert error["value"] == "spaceships"
    for niche in ("beauty", "fashion", "fitness", "food", "home", "parenting", "pets", "tech"):
        assert niche in error["accepted"], error


def test_two_candidates_or_filters_errors_at_once_are_all_listed(api):
    # when two fields are wrong
    response = api.post("/v1/rank", json={"brief": {**BRIEF, "product_price": -1}, "top_k": 0})
    # then both are named
    found = problem(response, 422)
    assert {e["field"] for e in found["errors"]} == {"brief.product_price", "top_k"}, found


def _chunks(body: bytes, size: int = 16_384):
    for start in range(0, len(body), size):
        yield body[start:start + size]


def test_a_chunked_body_under_the_limit_is_read_whole(api):
    # when a body is sent without Content-Length
    response = api.post("/v1/rank", data=_chunks(_body(top_k=2, filters={"tiers": ["micro"]})),
                        headers={"Content-Type": "application/json"})
    # then
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["creators"]) == 2


def test_a_chunked_body_over_the_limit_is_413(api):
    # given a body over the limit, sent without Content-Length
    body = _body(padding="x" * MAX_BODY)
    # when
    response = api.post("/v1/rank", data=_chunks(body), headers={"Content-Type": "application/json"})
    # then
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "200,000" in problem(response, 413)["detail"]


# --- the catalog ----------------------------------------------------------------------------------------------

def test_creator_pages_are_consistent_and_do_not_overlap(api):
    # given a filter
    query = {"niche": ["home", "pets"], "platform": "instagram", "min_audience_quality": 0.5}
    # when reading it three pages of 7 at a time
    pages = [api.get("/v1/creators", params={**query, "limit": 7, "offset": offset}).json()
             for offset in (0, 7, 14)]
    everything = api.get("/v1/creators", params={**query, "limit": 1000}).json()
    # then
    total = everything["total"]
    assert total > 21 and all(page["total"] == total for page in pages)
    assert [(p["limit"], p["offset"]) for p in pages] == [(7, 0), (7, 7), (7, 14)]
    ids = [c["creator_id"] for page in pages for c in page["creators"]]
    assert len(ids) == 21 == len(set(ids))
    assert ids == [c["creator_id"] for c in everything["creators"][:21]]
    for creator in everything["creators"]:
        assert creator["niche"] in ("home", "pets") and creator["platform"] == "instagram"
        assert creator["audience_quality"] >= 0.5
    assert len(everything["creators"]) == total  # fewer than one page of 1,000


def test_a_page_past_the_end_is_empty_and_still_counts(api):
    total = catalog_total(api)
    page = api.get("/v1/creators", params={"offset": total, "limit": 5}).json()
    assert page == {"total": total, "limit": 5, "offset": total, "creators": []}


def test_one_creator_by_id_and_an_unknown_id(api):
    # given a creator of the catalog
    row = catalog_rows(api, 1, platform="tiktok")[0]
    # when
    found = api.get(f"/v1/creators/{row['creator_id']}")
    missing = api.get("/v1/creators/cr-does-not-exist")
    # then
    assert found.status_code == 200 and found.json() == row
    assert "cr-does-not-exist" in problem(missing, 404)["detail"]


# --- API keys and imports -------------------------------------------------------------------------------------

KEY_ROUTES = {"/v1/creators/import": None, "/admin/reload": {}}


@pytest.mark.parametrize("route", list(KEY_ROUTES))
@pytest.mark.parametrize("presented", [None, {"X-API-Key": "not-the-key"}, {"Authorization": "Bearer not-the-key"},
                                       {"Authorization": f"Basic {KEY}"}],
                         ids=["none", "wrong-x-api-key", "wrong-bearer", "basic-scheme"])
def test_write_and_admin_routes_refuse_a_missing_or_wrong_key(service, api, route, presented):
    # given a new creator and the catalog as it is
    new = fresh(catalog_rows(api, 1), "refused")
    before = catalog_total(api)
    models = serving_models(api)
    body = new if route == "/v1/creators/import" else KEY_ROUTES[route]
    # when
    response = api.post(route, json=body, headers=presented or {})
    # then
    if presented is None or "Basic" in presented.get("Authorization", ""):
        assert problem(response, 401)["title"] == "Unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    else:
        assert problem(response, 403)["title"] == "Forbidden"
    assert catalog_total(api) == before
    problem(api.get(f"/v1/creators/{new[0]['creator_id']}"), 404)
    assert serving_models(api) == models


def test_import_is_idempotent_with_either_key_header(api):
    # given creators the catalog does not hold
    new = fresh(catalog_rows(api, 4, niche="food"), "imported")
    before = catalog_total(api)
    # when imported twice, once per way of presenting the key
    first = api.post("/v1/creators/import", json=new, headers={"X-API-Key": KEY})
    second = api.post("/v1/creators/import", json=new, headers={"Authorization": f"Bearer {KEY}"})
    # then
    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    assert {k: first.json()[k] for k in ("received", "created", "updated", "unchanged")} == \
        {"received": 4, "created": 4, "updated": 0, "unchanged": 0}
    assert {k: second.json()[k] for k in ("received", "created", "updated", "unchanged")} == \
        {"received": 4, "created": 0, "updated": 0, "unchanged": 4}
    assert first.json()["catalog_size"] == second.json()["catalog_size"] == before + 4 == catalog_total(api)
    assert second.json()["revision"] >= first.json()["revision"]
    for row in new:  # every worker serves the imported rows at once
        for _ in range(3):
            stored = api.get(f"/v1/creators/{row['creator_id']}").json()
            assert stored["followers"] == row["followers"] and stored["platform"] == row["platform"]
    listed = api.get("/v1/creators", params={"limit": 1000, "niche": "food"}).json()["creators"]
    assert {r["creator_id"] for r in new} <= {c["creator_id"] for c in listed}


def test_import_updates_a_changed_creator(api):
    # given an imported creator
    new = fresh(catalog_rows(api, 1), "updated")
    assert api.admin("/v1/creators/import", json=new).json()["created"] == 1
    # when its price changes
    changed = [{**new[0], "price_per_post": 123.0}]
    result = api.admin("/v1/creators/import", json=changed).json()
    # then
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 0)
    assert api.get(f"/v1/creators/{new[0]['creator_id']}").json()["price_per_post"] == 123.0


@pytest.mark.parametrize("flaw", ["negative-followers", "unknown-platform", "duplicate-id", "csv-bad-row"])
def test_an_import_with_one_bad_row_changes_nothing(api, flaw):
    # given two good new creators and one bad row
    rows = fresh(catalog_rows(api, 3, tier="nano"), "all-or-nothing")
    before = catalog_total(api)
    if flaw == "negative-followers":
        rows[2]["followers"], field = -5, "[2].followers"
    elif flaw == "unknown-platform":
        rows[2]["platform"], field = "myspace", "[2].platform"
    elif flaw == "duplicate-id":
        rows[2]["creator_id"], field = rows[0]["creator_id"], "[2].creator_id"
    else:
        rows[2]["platform"], field = "myspace", "platform"
    # when
    if flaw == "csv-bad-row":
        columns = list(rows[0])
        lines = [",".join(columns)] + [",".join("" if r[c] is None else str(r[c]) for c in columns) for r in rows]
        response = api.admin("/v1/creators/import", data="\n".join(lines).encode(),
                             headers={"Content-Type": "text/csv"})
    else:
        response = api.admin("/v1/creators/import", json=rows)
    # then
    found = problem(response, 422)
    assert any(field in e["field"] for e in found["errors"]), found
    assert catalog_total(api) == before
    for row in rows[:2]:
        problem(api.get(f"/v1/creators/{row['creator_id']}"), 404)


def test_a_csv_import_of_good_rows_creates_them(api):
    rows = fresh(catalog_rows(api, 2, tier="nano"), "csv")
    columns = list(rows[0])
    lines = [",".join(columns)] + [",".join("" if r[c] is None else str(r[c]) for c in columns) for r in rows]
    result = api.admin("/v1/creators/import", data="\n".join(lines).encode(), headers={"Content-Type": "text/csv"})
    assert result.status_code == 200, result.text[:500]
    assert (result.json()["created"], result.json()["received"]) == (2, 2)
    assert api.get(f"/v1/creators/{rows[1]['creator_id']}").json()["followers"] == rows[1]["followers"]


# --- operations -----------------------------------------------------------------------------------------------

def test_health_readiness_version_and_docs(service, api):
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz").json()
    assert ready["ready"] is True and ready["database"] == "ok" and ready["catalog_creators"] >= 2000
    assert set(ready["models"]) >= {"engagement", "conversion", "lift", "alias", "version_set"}
    version = api.get("/version").json()
    assert version["service"] and version["feature_version"] >= 1 and version["models"] == ready["models"]
    docs = api.get("/docs")
    assert docs.headers["Content-Type"].startswith("text/html")
    assert docs.text.lstrip().lower().startswith("<!doctype html>")
    for route in ("POST /v1/rank", "POST /v1/forecast", "GET /v1/creators", "POST /admin/reload"):
        assert route in docs.text, route


def _metrics(api: Api) -> dict[str, list]:
    families = text_string_to_metric_families(api.get("/metrics").text)
    return {family.name: family for family in families}


def test_metrics_count_requests_by_route_method_and_status_and_time_them(service, api):
    # given requests that succeed and fail on several routes
    before = _metrics(api)

    def count(families, route, method, status):
        return sum(s.value for s in families["microlift_requests"].samples
                   if s.name == "microlift_requests_total"
                   and s.labels == {"route": route, "method": method, "status": status})

    start = {key: count(before, *key) for key in [("/v1/rank", "POST", "200"), ("/v1/rank", "POST", "422"),
                                                  ("/v1/creators/<creator_id>", "GET", "404")]}
    for _ in range(2):
        api.post("/v1/rank", json={"brief": BRIEF, "top_k": 1})
        api.post("/v1/rank", json={"brief": BRIEF, "top_k": 0})
        api.get("/v1/creators/not-a-creator")
    # when
    after = _metrics(api)
    # then each request was counted under its route, method and status
    for key, was in start.items():
        assert count(after, *key) == was + 2, key
    latency = after["microlift_request_seconds"]
    assert latency.type == "histogram"
    rank = [s for s in latency.samples if s.labels.get("route") == "/v1/rank" and s.labels.get("method") == "POST"]
    buckets: dict[float, float] = {}  # summed over any further labels (status, ...)
    for sample in rank:
        if sample.name.endswith("_bucket"):
            buckets[float(sample.labels["le"])] = buckets.get(float(sample.labels["le"]), 0) + sample.value
    total = sum(s.value for s in rank if s.name.endswith("_count"))
    assert total >= 4 and buckets[math.inf] == total, (buckets, total)
    cumulative = [buckets[le] for le in sorted(buckets)]
    assert len(cumulative) >= 5 and cumulative == sorted(cumulative), buckets
    # and timed per status too: the refused ranks have their own histogram
    assert sum(s.value for s in rank if s.name.endswith("_count") and s.labels.get("status") == "422") >= 2
    # and the served versions are marked loaded
    loaded = {(s.labels["kind"], s.labels["version"]): s.value for s in after["microlift_model_loaded"].samples}
    models = serving_models(api)
    for kind in ("engagement", "conversion", "lift"):
        assert loaded[(kind, models[kind])] == 1, loaded


# --- reloading while requests are in flight -------------------------------------------------------------------

@pytest.fixture(scope="module")
def second_set(service) -> dict[str, str]:
    """A second training (another seed) registered, and the alias moved to it; the service not told yet."""
    microlift(service.env, "train", "--data", service.data, "--register", "--seed", "11", "--quiet")
    microlift(service.env, "promote", "--data", service.data, "--version", "latest", "--force")
    second, latest = registered(service.env)
    assert second == latest and not same_set(second, service.first)
    return second


def test_reload_under_load_answers_every_request_with_one_whole_version_set(service, api, second_set):
    # given the service still on the first version set, and four clients ranking without pause
    old, new = service.first, second_set
    assert same_set(serving_models(api), old)
    answers: list[tuple[int, dict | str]] = []
    stop = threading.Event()
    request = {"brief": BRIEF, "filters": {"tiers": ["micro", "nano"]}, "top_k": 5}

    def client():
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    response = session.post(api.base + "/v1/rank", json=request, timeout=60)
                except requests.RequestException as exc:  # a dropped connection is a failed answer too
                    answers.append((0, repr(exc)))
                    continue
                ok = response.status_code == 200
                answers.append((response.status_code, response.json()["models"] if ok else response.text[:300]))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(1.0)
        # when the alias is reloaded in the middle of it
        before_reload = len(answers)
        reload = api.admin("/admin/reload", json={})
        time.sleep(2.0)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
    # then nothing failed and every answer came from one whole version set
    assert reload.status_code == 200, reload.text[:500]
    assert reload.json()["outcome"] == "reloaded" and same_set(reload.json()["models"], new), reload.json()
    assert before_reload > 0 and len(answers) > before_reload + 4, len(answers)
    failures = [a for a in answers if a[0] != 200]
    assert not failures, failures[:5]
    mixed = [m for _, m in answers if not (same_set(m, old) or same_set(m, new))]
    assert not mixed, mixed[:5]
    assert all(same_set(m, old) for _, m in answers[:before_reload])
    assert any(same_set(m, new) for _, m in answers[before_reload:])
    # and within a few seconds every worker serves the new set
    deadline, streak = time.monotonic() + 20, 0
    while streak < 12 and time.monotonic() < deadline:
        fresh_connection = requests.post(api.base + "/v1/rank", json=request, timeout=60)
        streak = streak + 1 if same_set(fresh_connection.json()["models"], new) else 0
        time.sleep(0.05)
    assert streak >= 12, "some worker still answers with the old version set"
    loaded = {(s.labels["kind"], s.labels["version"]): s.value for s in _metrics(api)["microlift_model_loaded"].samples}
    for kind in ("engagement", "conversion", "lift"):
        assert loaded[(kind, new[kind])] == 1 and loaded.get((kind, old[kind]), 0) == 0, loaded
    # and reloading again changes nothing
    again = api.admin("/admin/reload", json={}, headers={"Authorization": f"Bearer {KEY}"})
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged", again.text[:500]
    assert same_set(again.json()["models"], new)
    assert same_set(api.get("/readyz").json()["models"], new)
