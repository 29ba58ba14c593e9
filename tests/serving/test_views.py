"""The routes in process, through Flask's test client: the same app factory gunicorn serves
(tests/integration/test_service.py speaks to it over real HTTP), without starting a process per test."""

from __future__ import annotations

import pytest

from microlift.bootstrap import bootstrap
from microlift.models.rounding import DECIMALS
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


def test_rank_over_the_catalog_orders_by_net_revenue_without_a_margin_with_reasons(client):
    answer = client.post("/v1/rank", json={"brief": BRIEF, "filters": {"platforms": ["instagram"]}, "top_k": 5})
    assert answer.status_code == 200, answer.get_json()
    creators = answer.get_json()["creators"]
    assert len(creators) == 5 and all(row["platform"] == "instagram" and row["reasons"] for row in creators)
    body = answer.get_json()
    assert body["objective"] == "net_revenue" and body["margin"] is None
    assert any("no gross margin" in note for note in body["notes"])
    values = [row["net_revenue"]["mean"] for row in creators]
    assert values == sorted(values, reverse=True)
    assert all(row["profit"] is None and row["roi"] is None for row in creators)


def test_filters_that_match_no_creator_answer_an_empty_roster_saying_which_filters(client):
    # when: the catalog has no creator whose audience is in country ZZ
    answer = client.post("/v1/forecast", json={"brief": BRIEF, "budget": 2000, "draws": 200,
                                               "filters": {"countries": ["ZZ"], "platforms": ["instagram"]}})
    ranked = client.post("/v1/rank", json={"brief": BRIEF, "filters": {"countries": ["ZZ"]}})
    # then an empty roster and ranking, with the reason, not a silent zero forecast
    assert answer.status_code == 200 and ranked.status_code == 200, (answer.get_json(), ranked.get_json())
    body = answer.get_json()
    assert body["roster"]["creators"] == [] and body["candidates"] == 0
    assert body["notes"][0] == "no eligible creator: platforms=[instagram], countries=[ZZ]"
    assert ranked.get_json()["creators"] == []
    assert ranked.get_json()["notes"][0] == "no eligible creator: countries=[ZZ]"


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def test_answers_round_units_to_a_tenth_money_to_cents_and_ratios_to_a_thousandth(client):
    # when
    forecast = client.post("/v1/forecast", json={"brief": {**BRIEF, "margin": 0.45}, "budget": 2000, "draws": 200})
    rank = client.post("/v1/rank", json={"brief": {**BRIEF, "margin": 0.45}, "top_k": 10})
    assert forecast.status_code == 200 and rank.status_code == 200
    # then every number of a named field has no more decimals than the field means
    seen = {1: 0, 2: 0, 3: 0}

    def walk(value, decimals=None):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, decimals if key in ("mean", "p10", "p50", "p90") else DECIMALS.get(key))
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, float) and decimals is not None:
            assert _decimals(value) <= decimals, (value, decimals)
            seen[decimals] += 1

    walk(forecast.get_json())
    walk(rank.get_json())
    assert all(count > 20 for count in seen.values()), seen  # each kind of number was there to check


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


SPELT = {"niche": "Interior", "platforms": ["ig", " TikTok "], "tiers": ["Micro"], "compensation": " Gifting",
         "marketplace": "Amazon"}
PLAIN = {"niche": "home", "platforms": ["instagram", "tiktok"], "tiers": ["micro"], "compensation": "gifting",
         "marketplace": "amazon"}


def test_spellings_of_a_vocabulary_plan_exactly_as_its_canonical_values(client):
    # given the same requests in canonical values and in the spellings exports use
    requests = [("/v1/rank", {"brief": {**BRIEF, **{k: PLAIN[k] for k in ("niche", "compensation", "marketplace")}},
                              "filters": {"platforms": ["instagram", "tiktok"], "niches": ["home"],
                                          "tiers": ["micro"]}, "top_k": 5},
                 {"brief": {**BRIEF, **{k: SPELT[k] for k in ("niche", "compensation", "marketplace")}},
                  "filters": {"platforms": ["ig", " TikTok "], "niches": ["Interior"], "tiers": ["Micro"]},
                  "top_k": 5}),
                ("/v1/rank", {"brief": {**BRIEF, **PLAIN}, "top_k": 5}, {"brief": {**BRIEF, **SPELT}, "top_k": 5}),
                ("/v1/forecast", {"brief": {**BRIEF, **PLAIN}, "budget": 1500, "draws": 100,
                                  "limits": {"max_per_tier": {"micro": 4}, "max_per_platform": {"instagram": 3}}},
                 {"brief": {**BRIEF, **SPELT}, "budget": 1500, "draws": 100,
                  "limits": {"max_per_tier": {"Micro": 4}, "max_per_platform": {"ig": 3}}})]
    for path, plain, spelt in requests:
        # when
        answers = [client.post(path, json=body) for body in (plain, spelt)]
        # then the same answer
        assert [a.status_code for a in answers] == [200, 200], [a.get_json() for a in answers]
        assert answers[0].get_json() == answers[1].get_json(), path
    # and the creators query reads them too
    pages = [client.get(f"/v1/creators?{query}").get_json()
             for query in ("platform=instagram,tiktok&niche=home&tier=micro",
                           "platform=ig,%20TikTok%20&niche=Interior&tier=Micro")]
    assert pages[0] == pages[1] and pages[0]["total"] > 0


def test_writes_need_the_key_and_a_reload_with_it_answers(client):
    assert client.post("/admin/reload", json={}).status_code == 401
    reloaded = client.post("/admin/reload", json={}, headers={"X-API-Key": KEY})
    assert reloaded.status_code == 200, reloaded.get_json()


def test_the_planner_page_and_the_docs(client):
    page = client.get("/")
    assert page.status_code == 200 and b"<form" in page.data
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").get_json()["paths"]["/v1/forecast"]["post"]


@pytest.mark.parametrize("route", ["/v1/rank", "/v1/forecast"])
def test_a_nan_in_an_answer_gets_a_server_error_not_a_null(client, route, monkeypatch):
    # given: a NaN where the answer holds a number (a bug: JSON has no NaN, and a null would pass it off as "not
    # applicable"), from the conversion model's range of a shown creator, or in a forecast's roster
    from microlift.models import planning

    if route == "/v1/rank":
        model = client.application.extensions["microlift"].bundle.models["conversion"]
        bands = model.bands

        def broken(mu):
            out = bands(mu)
            out["p10"] = out["p10"].copy()
            out["p10"][0] = float("nan")
            return out

        monkeypatch.setattr(model, "bands", broken)
    else:
        forecast_budget = planning.forecast_budget

        def broken(*args, **kwargs):
            out = forecast_budget(*args, **kwargs)
            out["roster"]["total_cost"] = float("inf")
            return out

        monkeypatch.setattr(planning, "forecast_budget", broken)
    # when
    answer = client.post(route, json={"brief": BRIEF, "budget": 2000, "draws": 100} if route == "/v1/forecast"
                         else {"brief": BRIEF, "top_k": 5})
    # then: a problem, without the stack
    assert answer.status_code == 500, answer.get_json()
    assert answer.mimetype == "application/problem+json" and "Traceback" not in answer.get_data(as_text=True)


def test_a_repeated_inline_id_is_named_where_it_first_repeats(client):
    # given: five inline creators, "b" at 1 and 3, "a" at 0 and 4
    row = {"platform": "instagram", "niche": "home", "followers": 20_000}
    candidates = [{**row, "creator_id": i} for i in ("a", "b", "c", "b", "a")]
    # when
    answer = client.post("/v1/rank", json={"brief": BRIEF, "candidates": candidates})
    # then: the first position holding an id seen before
    assert answer.status_code == 422
    assert [e["field"] for e in answer.get_json()["errors"]] == ["candidates[3].creator_id"]
    assert answer.get_json()["errors"][0]["value"] == "b"
