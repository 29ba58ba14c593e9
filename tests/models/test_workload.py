"""Bounded work: the roster cap, budgets beyond what the candidates can absorb, the greedy's exactness at any
catalog size, and the per-request deadline (engine and HTTP)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from microlift.models import workload
from microlift.models.forecast import forecast
from microlift.models.roster import Candidates, Limits, Slopes, _Roster, choose
from microlift.serving.auth import digest
from tests.models.test_engine import SLOPES, world  # noqa: F401 - the shared small world and its models
from tests.service_support import prepare_home, service_env

KEY = "workload-key"


def plain_greedy(scored, budget: float, slopes: Slopes, limits: Limits, most: int) -> np.ndarray:
    """The greedy by gain per dollar written out: every step recomputes every open creator's gain and takes the
    largest (ties: the first by position). What the engine's queue must reproduce."""
    state = _Roster(Candidates.of(scored), slopes, limits)
    while int(state.chosen.sum()) < most:
        best, found = -math.inf, -1
        for i in range(len(scored)):
            if state.allowed(i, budget):
                density = state.gain(i) / max(state.c.cost[i], 1e-6)
                if density > best:
                    best, found = density, i
        if found < 0 or (best <= 0 and int(state.chosen.sum()) >= limits.min_creators):
            break
        state.add(found)
    return state.chosen


@pytest.mark.parametrize("kind", ["gifting", "paid", "affiliate"])
@pytest.mark.parametrize("limits", [Limits(), Limits(max_per_tier={"micro": 4, "nano": 6},
                                                      max_per_platform={"tiktok": 3})])
def test_the_queued_greedy_takes_the_creators_the_plain_greedy_takes(world, kind, limits):  # noqa: F811
    # given: 300 candidates and budgets from a few creators to more than all of them cost
    scored = world.scored(kind).iloc[:300].reset_index(drop=True)
    for budget in (200.0, 2_000.0, 20_000.0, 1e9):
        for most in (7, 10_000):
            # when: the engine's greedy alone (no seeded starts, no swaps)
            from microlift.models import roster

            c = Candidates.of(scored)
            state = roster._Roster(c, SLOPES, limits)
            usable = np.ones(len(scored), dtype=bool)
            roster._greedy(state, roster._Queue.of(c, SLOPES, usable), usable, budget, limits, most)
            # then: the same creators as recomputing every gain at every step
            expected = plain_greedy(scored, budget, SLOPES, limits, most)
            assert np.flatnonzero(state.chosen).tolist() == np.flatnonzero(expected).tolist(), (budget, most)


def test_a_budget_beyond_every_candidate_buys_them_all_at_once_and_says_so(world):  # noqa: F811
    # given: 40 candidates and a budget a thousand times what they cost
    brief = world.brief("gifting")
    scored = world.scored("gifting").iloc[:40].reset_index(drop=True)
    # when
    out = forecast(brief, scored, world.models["lift"], 1e9, draws=200)
    # then: every candidate is in the roster, every budget of the curve holds the same roster, and the answer
    # says that the candidates, not the budget, decided it
    assert len(out["roster"]["creators"]) == 40
    assert {point["creators"] for point in out["budget_curve"]} == {40}
    assert len(out["notes"]) == 1 and "the eligible catalog caps the roster" in out["notes"][0]


def test_no_roster_holds_more_creators_than_the_cap_and_the_answer_says_so(world, monkeypatch):  # noqa: F811
    # given: a cap of 25 creators (2,000 in service) and a budget that would buy every candidate
    monkeypatch.setattr(workload, "MAX_ROSTER", 25)
    brief = world.brief("paid")
    scored = world.scored("paid")
    # when
    out = forecast(brief, scored, world.models["lift"], 1e9, draws=200)
    # then: 25 creators at the asked budget and at every budget of the curve, the best by the greedy's own
    # objective (the same as choosing under the cap directly), and a note naming the cap
    assert len(out["roster"]["creators"]) == 25
    assert max(point["creators"] for point in out["budget_curve"]) == 25
    assert "most creators one plan may hold (25)" in out["notes"][0]
    assert out["cap"] == {"by": "roster_size", "spend": pytest.approx(out["roster"]["total_cost"]), "creators": 25}
    # and the suggested budget names the cap, not the catalog, as what stops a larger budget
    assert out["suggested_budget"]["budget"] is None
    assert out["suggested_budget"]["note"].startswith("the most creators one plan may hold (25) caps every budget")
    assert choose(scored, 1e9, SLOPES, max_creators=25).sum() == 25


def test_draws_outside_the_caps_are_refused_by_the_engine(world):  # noqa: F811
    brief = world.brief("gifting")
    scored = world.scored("gifting").iloc[:40].reset_index(drop=True)
    for draws in (workload.MIN_DRAWS - 1, workload.MAX_DRAWS + 1):
        with pytest.raises(ValueError, match=r"^draws: got"):
            forecast(brief, scored, world.models["lift"], 1000.0, draws=draws)


def test_work_past_its_deadline_stops_with_the_stage_it_was_in(world):  # noqa: F811
    brief = world.brief("gifting")
    scored = world.scored("gifting")
    with workload.deadline(1e-9), pytest.raises(workload.DeadlineExceeded, match="stopped while"):
        forecast(brief, scored, world.models["lift"], 5000.0, draws=200)
    # outside the block there is no deadline
    assert forecast(brief, scored.iloc[:40], world.models["lift"], 500.0, draws=200)["roster"]["creators"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app on a home with trained, promoted models, a deadline no plan can meet, and another with none."""
    from microlift.serving.app import create_app

    home = tmp_path_factory.mktemp("workload")
    env = service_env(home)
    prepare_home(env, home / "data", 600, 40, 5)
    settings = {**env, "MICROLIFT_API_KEY_HASHES": digest(KEY), "MICROLIFT_RATE_LIMIT": "0"}
    return create_app({**settings, "MICROLIFT_REQUEST_DEADLINE": "0.000001"}), create_app(settings)


BODY = {"brief": {"niche": "home", "product_price": 21.0, "baseline_units_per_month": 542}, "budget": 1e9,
        "draws": 5000, "filters": {}}


@pytest.mark.slow
def test_a_request_past_the_deadline_gets_503_with_retry_after_and_the_worker_answers_on(app):
    hurried, _ = app
    client = hurried.test_client()
    # when: the largest forecast a client may ask for, under a deadline of a microsecond
    response = client.post("/v1/forecast", data=json.dumps(BODY), content_type="application/json")
    # then
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    problem = response.get_json()
    assert problem["type"] == "urn:microlift:problem:deadline-exceeded" and "MICROLIFT_REQUEST_DEADLINE" in \
        problem["detail"]
    rank = client.post("/v1/rank", data=json.dumps({"brief": BODY["brief"], "filters": {}}),
                       content_type="application/json")
    assert rank.status_code == 503
    assert client.get("/healthz").status_code == 200


@pytest.mark.slow
def test_a_budget_beyond_the_catalog_is_answered_with_every_creator_and_a_note(app):
    _, patient = app
    # when: a billion dollars over the whole catalog (600 creators, all affordable)
    response = patient.test_client().post("/v1/forecast", data=json.dumps(BODY), content_type="application/json")
    # then
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    answer = response.get_json()
    assert len(answer["roster"]["creators"]) == min(answer["candidates"], workload.MAX_ROSTER)
    assert answer["notes"] and "buys no one else" in answer["notes"][0]
