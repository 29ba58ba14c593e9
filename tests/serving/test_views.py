"""The routes in process, through Flask's test client: the same app factory gunicorn serves
(tests/integration/test_service.py speaks to it over real HTTP), without starting a process per test."""

from __future__ import annotations

import pytest

from microlift.bootstrap import bootstrap
from microlift.serving.app import create_app
from microlift.serving.auth import digest
from microlift.training import pipeline

pytestmark = pytest.mark.slow
KEY = "views-test-key"
BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 400, "compensation": "gifting",
         "marketplace": "amazon", "weeks": 8}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A home bootstrapped as `serve --bootstrap` does (a small simulated world, models trained and promoted, the
    catalog imported), then the app in process."""
    root = tmp_path_factory.mktemp("views")
    env = {"MICROLIFT_HOME": str(root / "home"), "DATABASE_URL": f"sqlite:///{root / 'catalog.db'}",
           "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "MICROLIFT_API_KEY_HASHES": digest(KEY),
           "MICROLIFT_COMPILED_MODELS": "off", "MICROLIFT_RATE_LIMIT": "0"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        pipeline.simulate_dataset(root / "data", 800, 50, seed=4, progress=False)
        bootstrap(root / "data")
        app = create_app(env)
    return app.test_client()


def test_readiness_names_the_models_and_the_catalog(client):
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    body = ready.get_json()
    assert body["ready"] and set(body["models"]) >= {"engagement", "conversion", "lift"}
    assert body["catalog_creators"] == 800


def test_rank_over_the_catalog_orders_by_profit_with_reasons(client):
    answer = client.post("/v1/rank", json={"brief": BRIEF, "filters": {"platforms": ["instagram"]}, "top_k": 5})
    assert answer.status_code == 200, answer.get_json()
    creators = answer.get_json()["creators"]
    assert len(creators) == 5 and all(row["platform"] == "instagram" and row["reasons"] for row in creators)
    profits = [row["profit"]["p50"] for row in creators]
    assert profits == sorted(profits, reverse=True)


def test_forecast_fits_the_budget_and_draws_a_curve(client):
    answer = client.post("/v1/forecast", json={"brief": BRIEF, "budget": 2000, "draws": 200})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert 0 < body["roster"]["total_cost"] <= 2000 and len(body["budget_curve"]) == 9
    bands = body["forecast"]["units_per_month_during"]
    assert bands["p10"] <= bands["p50"] <= bands["p90"]


def test_a_new_product_gets_a_forecast_over_http_with_no_lift_multiple_and_the_reason(client):
    answer = client.post("/v1/forecast", json={"brief": {**BRIEF, "baseline_units_per_month": 0}, "budget": 2000,
                                               "draws": 200})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["forecast"]["units_per_month_during"]["p50"] > 0
    assert body["forecast"]["lift_multiple"] is None
    assert any("new product" in note for note in body["notes"])


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"brief": {**BRIEF, "niche": "astrology"}, "budget": 2000}, "brief.niche", "home"),
    ({"brief": BRIEF, "budget": 2000, "draws": 5}, "draws", "100"),
    ({"brief": BRIEF, "budget": 2000, "limits": {"must_include": ["nobody00"]}}, "limits.must_include",
     "among the candidates"),
    ({"brief": BRIEF, "budget": 100, "limits": {"min_creators": 500}}, "limits.min_creators", "fit the budget"),
])
def test_a_request_the_planner_cannot_plan_is_a_422_naming_the_field(client, body, field, words):
    answer = client.post("/v1/forecast", json=body)
    assert answer.status_code == 422, answer.get_json()
    problem = answer.get_json()
    assert problem["errors"][0]["field"] == field and words in problem["detail"], problem


def test_creators_page_and_one_creator(client):
    page = client.get("/v1/creators?limit=3")
    assert page.status_code == 200
    rows = page.get_json()["creators"]
    assert len(rows) == 3
    one = client.get(f"/v1/creators/{rows[0]['creator_id']}")
    assert one.status_code == 200 and one.get_json()["creator_id"] == rows[0]["creator_id"]
    assert client.get("/v1/creators/nobody00").status_code == 404


def test_writes_need_the_key_and_a_reload_with_it_answers(client):
    assert client.post("/admin/reload", json={}).status_code == 401
    reloaded = client.post("/admin/reload", json={}, headers={"X-API-Key": KEY})
    assert reloaded.status_code == 200, reloaded.get_json()


def test_the_planner_page_and_the_docs(client):
    page = client.get("/")
    assert page.status_code == 200 and b"<form" in page.data
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").get_json()["paths"]["/v1/forecast"]["post"]
