"""The rate limit and the request metrics: made-up API keys buy no extra requests, made-up methods and paths add
no metric series."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from serving import metrics
from serving.auth import digest

KEY = "ratelimit-test-key"
REDIS = "redis://127.0.0.1:6379/15"


def _app(tmp_path, **env):
    from serving.app import create_app

    return create_app({"MICROLIFT_HOME": str(tmp_path / "home"), "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
                       "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
                       "MICROLIFT_API_KEY_HASHES": digest(KEY), **env})


def _inside_one_minute() -> None:
    """Counts run per clock minute: start well inside one."""
    if 60 - time.time() % 60 < 5:
        time.sleep(60 - time.time() % 60 + 0.1)


@pytest.fixture
def prefix():
    """A Redis key prefix of this test's own (others use the same Redis); its keys are removed afterwards."""
    name = f"microlift:test:{uuid.uuid4().hex[:12]}:"
    yield name
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(name + "*"):
        client.delete(key)



# --- who is counted ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("store", ["memory", "redis"])
def test_made_up_keys_are_counted_by_address_and_only_a_verified_key_has_its_own_count(tmp_path, store, prefix):
    # given a limit of 5 per minute, counted in this worker or in Redis
    app = _app(tmp_path, MICROLIFT_RATE_LIMIT="5", **({"REDIS_URL": REDIS} if store == "redis" else {}))
    app.extensions["microlift.limiter"].prefix = prefix
    client = app.test_client()
    _inside_one_minute()
    # when one address sends 12 requests, each with a different made-up key (both ways of sending one)
    codes = [client.get("/v1/creators", headers={"X-API-Key": f"made-up-{i}"} if i % 2 else
                        {"Authorization": f"Bearer made-up-{i}"}).status_code for i in range(12)]
    # then they share the address's count, as requests without a key do
    assert codes == [200] * 5 + [429] * 7
    refused = client.get("/v1/creators")
    assert refused.status_code == 429 and "from this address" in refused.get_json()["detail"]
    # and a wrong key on a route that needs one is counted by address too (refused by the limit before the key)
    assert client.post("/v1/creators/import", headers={"X-API-Key": "made-up"}).status_code == 429
    # while the verified key has a count of its own, whichever way it is sent
    verified = [client.get("/v1/creators", headers={"Authorization": f"Bearer {KEY}"} if i % 2 else
                           {"X-API-Key": KEY}).status_code for i in range(6)]
    assert verified == [200] * 5 + [429]
    assert "from this API key" in client.get("/v1/creators", headers={"X-API-Key": KEY}).get_json()["detail"]
    # and another address has its own
    assert client.get("/v1/creators", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    if store == "redis":  # one count per caller: two addresses and one key
        assert len(list(redis.Redis.from_url(REDIS).scan_iter(prefix + "*"))) == 3


def test_a_verified_key_is_hashed_once_per_request(tmp_path, monkeypatch):
    # given a service with the rate limit on, and a route that needs the key
    import serving.auth

    client = _app(tmp_path, MICROLIFT_RATE_LIMIT="50").test_client()
    hashed: list[str] = []
    real = serving.auth.digest
    monkeypatch.setattr(serving.auth, "digest", lambda key: hashed.append(key) or real(key))
    # when the key comes with an import (limit, then key check)
    answer = client.post("/v1/creators/import", headers={"X-API-Key": KEY, "Content-Type": "text/csv"}, data=b"")
    # then the key check passed on the one verification the limiter made
    assert answer.status_code not in (401, 403, 429), answer.get_json()
    assert hashed == [KEY]


# --- metrics ----------------------------------------------------------------------------------------------------

def _series(client) -> set[tuple[str, str, str]]:
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    return {(s.labels["route"], s.labels["method"], s.labels["status"]) for s in families["microlift_requests"].samples
            if s.name == "microlift_requests_total"}


def test_made_up_methods_and_paths_add_no_metric_series(tmp_path):
    # given a service that has answered requests
    client = _app(tmp_path, MICROLIFT_RATE_LIMIT="0").test_client()
    client.get("/v1/creators")
    client.get("/metrics")  # a scrape is counted once it is answered
    before = _series(client)
    # when clients send made-up methods and paths, and paths under real routes
    for i in range(40):
        client.open("/v1/creators", method=f"QAAB{i}")
        client.open(f"/no-such-page/{uuid.uuid4().hex}", method=f"X{i}")
        client.get(f"/no-such-page/{uuid.uuid4().hex}?q={i}")
        client.get(f"/v1/creators/made-up-{i}")
        client.get(f"/static/made-up-{i}.js")
    # then every label comes from a fixed set: a handful of new series, not one per method or path
    added = _series(client) - before
    assert {method for _, method, _ in _series(client)} <= metrics.METHODS | {"other"}
    assert added <= {("(unmatched)", "other", "405"), ("(unmatched)", "other", "404"), ("(unmatched)", "GET", "404"),
                     ("/v1/creators/<creator_id>", "GET", "404"), ("/static/<path:filename>", "GET", "404")}, added
    # and a status outside HTTP's range gets one label too
    assert metrics.request_labels(None, "get", 1234) == ("(unmatched)", "other", "other")

