"""The rate limit and the request metrics: made-up API keys buy no extra requests, made-up methods and paths add
no metric series, and a Redis that fails or never answers slows no request down."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import redis
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from microlift.serving import metrics, schemas
from microlift.serving.auth import digest
from microlift.serving.ratelimit import COOL_DOWN, Limiter
from tests.service_support import (
    BIN,
    REDIS_URL,
    OpenAPI,
    background,
    free_port,
    microlift,
    redis_url,
    remove_redis_keys,
    service_env,
)

KEY = "ratelimit-test-key"


def _app(tmp_path, **env):
    from microlift.serving.app import create_app

    return create_app({"MICROLIFT_HOME": str(tmp_path / "home"), "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
                       "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
                       "MICROLIFT_API_KEY_HASHES": digest(KEY), **env})


def _inside_one_minute() -> None:
    """Counts run per clock minute: start well inside one."""
    if 60 - time.time() % 60 < 5:
        time.sleep(60 - time.time() % 60 + 0.1)


@pytest.fixture
def source():
    """An address of this test's own on the loopback network, so no other test shares its count; the counts the
    service kept for it in Redis are removed afterwards."""
    address = f"127.{uuid.uuid4().int % 250 + 1}.{uuid.uuid4().int % 250 + 1}.{uuid.uuid4().int % 250 + 1}"
    yield address
    remove_redis_keys(f"{Limiter(0).prefix}addr:{address}:*")


class SilentRedis:
    """A server that accepts connections and never answers: a Redis that hangs. Counts the connections."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                self.held.append(self.listener.accept()[0])

    @property
    def connections(self) -> int:
        return len(self.held)

    def close(self):
        self.listener.close()
        for held in self.held:
            held.close()


class Relay:
    """A TCP relay to the real Redis that can go silent: while `silent`, what clients send is swallowed and nothing
    comes back, as from a Redis that hangs."""

    def __init__(self, upstream: str):
        target = urlsplit(upstream)
        self.upstream = (target.hostname or "127.0.0.1", target.port or 6379)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}{target.path}"
        self.silent = False
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                client = self.listener.accept()[0]
                upstream = socket.create_connection(self.upstream)
                self.sockets += [client, upstream]
                threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not self.silent:
                    target.sendall(data)
        for end in (source, target):
            end.close()

    def close(self):
        self.listener.close()
        for end in self.sockets:
            end.close()


@pytest.fixture
def silent_redis():
    server = SilentRedis()
    yield server
    server.close()


@pytest.fixture
def relay():
    server = Relay(redis_url())
    yield server
    server.close()


class Clock:
    """The limiter's cool-down clock, moved by the test instead of waited for."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _backend(name: str) -> float:
    return REGISTRY.get_sample_value("microlift_rate_limit_backend", {"backend": name}) or 0.0


def _fallbacks() -> float:
    return REGISTRY.get_sample_value("microlift_rate_limit_fallbacks_total") or 0.0


# --- who is counted ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("store", ["memory", "redis"])
def test_made_up_keys_are_counted_by_address_and_only_a_verified_key_has_its_own_count(tmp_path, store, redis_prefix):
    # given a limit of 5 per minute, counted in this worker or in Redis
    app = _app(tmp_path, MICROLIFT_RATE_LIMIT="5", **({"REDIS_URL": redis_url()} if store == "redis" else {}))
    app.extensions["microlift.limiter"].prefix = redis_prefix
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
        assert len(list(redis.Redis.from_url(REDIS_URL).scan_iter(redis_prefix + "*"))) == 3


def test_a_verified_key_is_hashed_once_per_request(tmp_path, monkeypatch):
    # given a service with the rate limit on, and a route that needs the key
    import microlift.serving.auth

    client = _app(tmp_path, MICROLIFT_RATE_LIMIT="50").test_client()
    hashed: list[str] = []
    real = microlift.serving.auth.digest
    monkeypatch.setattr(microlift.serving.auth, "digest", lambda key: hashed.append(key) or real(key))
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


# --- a Redis that fails or hangs ----------------------------------------------------------------------------------

def test_a_redis_that_never_answers_is_tried_once_per_cool_down_not_per_request(silent_redis, caplog):
    # given a limiter whose Redis accepts connections and never answers
    clock = Clock()
    limiter = Limiter(1000, silent_redis.url, clock=clock)
    local, fallbacks = _backend("local"), _fallbacks()
    # when 50 requests come
    with caplog.at_level(logging.INFO, logger="microlift.serving.ratelimit"):
        counts = [limiter.hit("addr:192.0.2.1")[0] for _ in range(50)]
    # then only the first waited on Redis; the worker counted all of them itself
    assert silent_redis.connections == 1
    assert counts == list(range(1, 51))
    # and said so once: one log line, the gauge moved to local, one fallback counted
    warned = [r for r in caplog.records if r.name == "microlift.serving.ratelimit"]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING and "counts on its own" in warned[0].message
    assert (_backend("local") - local, _fallbacks() - fallbacks) == (1, 1)
    # when the cool-down has not yet passed, Redis is left alone; once it has, one request tries again
    clock.now += COOL_DOWN[0] - 0.1
    limiter.hit("addr:192.0.2.1")
    assert silent_redis.connections == 1
    clock.now += 0.2
    for _ in range(10):
        limiter.hit("addr:192.0.2.1")
    assert silent_redis.connections == 2
    # and while Redis keeps failing, the cool-down grows
    clock.now += COOL_DOWN[0] + 0.1
    limiter.hit("addr:192.0.2.1")
    assert silent_redis.connections == 2
    clock.now += COOL_DOWN[0]
    limiter.hit("addr:192.0.2.1")
    assert silent_redis.connections == 3
    assert len([r for r in caplog.records if r.levelno >= logging.INFO]) == 1


def test_counts_are_shared_again_once_a_hanging_redis_answers(relay, redis_prefix, caplog):
    # given a limiter counting in Redis
    clock = Clock()
    limiter = Limiter(1000, relay.url, clock=clock)
    limiter.prefix = redis_prefix
    assert [limiter.hit("addr:192.0.2.2")[0] for _ in range(3)] == [1, 2, 3]
    redis_workers = _backend("redis")
    # when Redis stops answering
    relay.silent = True
    with caplog.at_level(logging.INFO, logger="microlift.serving.ratelimit"):
        assert [limiter.hit("addr:192.0.2.2")[0] for _ in range(2)] == [1, 2]  # this worker's own count
        assert _backend("redis") == redis_workers - 1
        # and answers again after the cool-down
        relay.silent = False
        clock.now += COOL_DOWN[0] + 0.1
        shared = limiter.hit("addr:192.0.2.2")[0]
    # then the shared count goes on from where Redis left it
    assert shared == 4
    assert _backend("redis") == redis_workers
    said = [(r.levelno, r.message) for r in caplog.records if r.name == "microlift.serving.ratelimit"]
    assert [level for level, _ in said] == [logging.WARNING, logging.INFO] and "answers again" in said[1][1]


# --- readiness ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("store", ["none", "redis", "silent"])
def test_readiness_says_whether_the_rate_limit_is_shared_by_all_workers(tmp_path, store, silent_redis):
    # given a service with no Redis, a working Redis, or a Redis that never answers
    url = {"none": "", "redis": redis_url() if store == "redis" else "", "silent": silent_redis.url}[store]
    client = _app(tmp_path, MICROLIFT_RATE_LIMIT="7", REDIS_URL=url).test_client()
    # when readiness is asked
    answer = client.get("/readyz")
    body = answer.get_json()
    # then it says how this worker counts, in the shape the OpenAPI document declares
    document = OpenAPI(client.get("/openapi.json").get_json())
    schema = document.validator("paths", "/readyz", "get", "responses", str(answer.status_code), "content",
                                "application/json", "schema")
    assert not list(schema.iter_errors(body)), body
    schemas.Readiness.model_validate(body)
    state = body["rate_limit"]
    assert state["limit_per_minute"] == 7 and state["shared"] is (store == "redis"), state
    expected = {"none": "each worker counts on its own", "redis": "shared by all workers",
                "silent": "this worker counts on its own"}[store]
    assert expected in state["detail"], state


# --- under gunicorn ---------------------------------------------------------------------------------------------

@pytest.mark.service
@pytest.mark.slow
def test_two_gunicorn_workers_share_one_count_and_bounded_metrics(tmp_path, source):
    # given `microlift serve` with two workers sharing Redis (no model needed for the catalog routes)
    port = free_port()
    env = service_env(tmp_path / "home", MICROLIFT_BIND=f"127.0.0.1:{port}", MICROLIFT_WORKERS="2",
                      MICROLIFT_THREADS="2", MICROLIFT_RATE_LIMIT="20", REDIS_URL=redis_url(),
                      MICROLIFT_API_KEY_HASHES=digest(KEY))
    microlift(env, "models")  # creates the MLflow store before two workers would race to
    with background([str(BIN / "microlift"), "serve"], env, tmp_path / "serve.log", cwd=tmp_path):
        _wait_until_alive(port, tmp_path / "serve.log")
        _inside_one_minute()
        # when 60 requests come, each on a new connection and with a made-up key
        codes = [_call(port, source, "GET", "/v1/creators", {"X-API-Key": f"made-up-{i}"})[0] for i in range(60)]
        # then the workers let 20 through between them
        assert codes.count(200) == 20 and codes.count(429) == 40, codes
        status, body = _call(port, source, "GET", "/readyz", {})
        assert json.loads(body)["rate_limit"]["shared"] is True
        # and made-up methods add one series to the workers' metrics, not one each
        for i in range(30):
            _call(port, source, f"QAAB{i}", "/v1/creators", {})
        # each worker reports its backend once its app is made: on a busy machine the second may still be starting
        deadline = time.monotonic() + 60
        while True:
            scraped = _call(port, source, "GET", "/metrics", {})[1].decode()
            families = {f.name: f for f in text_string_to_metric_families(scraped)}
            started = sum(s.value for s in families["microlift_rate_limit_backend"].samples)
            if started >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    methods = {s.labels["method"] for s in families["microlift_requests"].samples}
    assert methods <= metrics.METHODS | {"other"} and "other" in methods, methods
    # and both workers say they count in Redis
    assert {s.labels["backend"]: s.value for s in families["microlift_rate_limit_backend"].samples} == \
        {"redis": 2}, families["microlift_rate_limit_backend"].samples


def _wait_until_alive(port: int, log, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if _call(port, "127.0.0.1", "GET", "/healthz", {})[0] == 200:
                return
        time.sleep(0.3)
    pytest.fail(f"microlift serve did not answer /healthz within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def _call(port: int, source: str, method: str, path: str, headers: dict) -> tuple[int, bytes]:
    """One request on a new connection from `source` (any 127.x.y.z reaches the service on loopback)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        connection.request(method, path, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()
