"""The service facing clients directly: requests sent slowly or stopped early, answers given before the body is
read, a worker stopped under load, redirects, pages and gunicorn's own refusals.

The service runs from an empty home (no model, an empty catalog): /healthz, the catalog and the key checks are
all these tests need."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from microlift.serving.auth import digest
from microlift.serving.worker import REQUEST_GRACE_SECONDS
from tests.deploy_support import alive, raw_request, read_answer
from tests.integration.test_resilience import gunicorn_workers
from tests.service_support import free_port, service_env

pytestmark = [pytest.mark.slow, pytest.mark.service, pytest.mark.xdist_group("deploy")]
KEY = "deploy-key"
REPO = Path(__file__).resolve().parents[2]
CSV = (REPO / "data" / "sample" / "creators.csv").read_bytes()


@dataclass
class Live:
    base: str
    port: int
    env: dict[str, str]
    log: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    port = free_port()
    env = service_env(root / "home", MICROLIFT_BIND=f"127.0.0.1:{port}", MICROLIFT_WORKERS="2",
                      MICROLIFT_THREADS="4", MICROLIFT_API_KEY_HASHES=digest(KEY), MICROLIFT_RATE_LIMIT="0")
    with alive(env, root / "serve.log", cwd=root):
        imported = requests.post(f"http://127.0.0.1:{port}/v1/creators/import", data=CSV, timeout=60,
                                 headers={"X-API-Key": KEY, "Content-Type": "text/csv"})
        assert imported.status_code == 200, imported.text
        yield Live(f"http://127.0.0.1:{port}", port, env, root / "serve.log")


# --- slow and short requests -------------------------------------------------------------------------------------

def trickle(sock: socket.socket, payload: bytes, seconds: float) -> tuple[float, bytes]:
    """Send `payload` every half second until the server answers or closes: (when, all it sent before closing)."""
    started = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - started < seconds:
        with contextlib.suppress(OSError):
            sock.sendall(payload)
        try:
            first = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            first = b""
        when, received = time.monotonic() - started, first
        sock.settimeout(10)
        while first and (first := sock.recv(65536)):
            received += first
        return when, received
    return time.monotonic() - started, b"(still open)"


def test_a_client_that_trickles_its_request_head_or_body_is_cut_off(live):
    # given one client trickling its request head and one its body, a byte every half second
    limit = REQUEST_GRACE_SECONDS + 10
    results: dict[str, tuple[float, bytes]] = {}
    head = socket.create_connection(("127.0.0.1", live.port), timeout=30)
    head.sendall(b"POST /v1/creators/import HTTP/1.1\r\nHost: x\r\n")  # the head never ends
    body = raw_request(live.port, f"POST /v1/creators/import HTTP/1.1\nHost: x\nX-API-Key: {KEY}\n"
                                  "Content-Type: text/csv\nContent-Length: 100000\n", CSV[:100])
    threads = [threading.Thread(target=lambda: results.update(head=trickle(head, b"X", limit))),
               threading.Thread(target=lambda: results.update(body=trickle(body, b" ", limit)))]
    # when the server has had the time it allows
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    head.close(), body.close()
    # then the head's connection is closed and the body's answered with a problem naming why, then closed
    assert results["head"][1] == b"", results["head"]
    answer = results["body"][1].decode("latin-1")
    assert answer.startswith("HTTP/1.1 400") and "application/problem+json" in answer, answer
    assert "not received whole" in answer and "too slowly" in answer, answer
    assert "Connection: close" in answer, answer
    for when, _ in results.values():
        assert REQUEST_GRACE_SECONDS - 1 < when < limit
    assert "too slow" in live.log.read_text()


def test_a_body_cut_short_by_the_client_is_refused_not_imported(live):
    # given a creators file whose Content-Length promises twice what the client sends before it stops sending
    rows = b"creator_id,platform,niche,followers\n" + b"".join(b"cut-%03d,tiktok,pets,20000\n" % i for i in range(50))
    sock = raw_request(live.port, f"POST /v1/creators/import HTTP/1.1\nHost: x\nX-API-Key: {KEY}\n"
                                  f"Content-Type: text/csv\nContent-Length: {2 * len(rows)}\n", rows)
    # when the client closes its side
    sock.shutdown(socket.SHUT_WR)
    status, headers, body = read_answer(sock)
    sock.close()
    # then the import is refused as incomplete and none of the rows is in the catalog
    assert status == 400 and headers["content-type"] == "application/problem+json", body
    assert b"closed the connection before the end of the request body" in body
    assert requests.get(live.base + "/v1/creators/cut-000", timeout=10).status_code == 404


# --- answers given before the body is read --------------------------------------------------------------------------

EARLY = {"no key": ("/admin/reload", {"Content-Type": "application/json"}, 401),
         "wrong key": ("/admin/reload", {"Content-Type": "application/json", "X-API-Key": "wrong"}, 403),
         "media type": ("/v1/rank", {"Content-Type": "text/plain"}, 415)}


@pytest.mark.parametrize("case", EARLY, ids=list(EARLY))
def test_an_answer_before_the_body_is_read_closes_the_connection_and_the_next_request_succeeds(live, case):
    path, headers, status = EARLY[case]
    body = b"{" + b" " * 200_000 + b"}"
    failures = []
    for _ in range(10):
        with requests.Session() as session:
            # given an answer sent without reading the 200 kB body
            first = session.post(live.base + path, data=body, headers=headers, timeout=30)
            assert first.status_code == status, first.text
            assert first.headers["Connection"] == "close"
            # when the client sends its next request on the same session
            try:
                session.get(live.base + "/healthz", timeout=30).raise_for_status()
            except requests.RequestException as exc:
                failures.append(repr(exc))
    # then it is answered
    assert not failures, failures


def test_an_answer_after_the_body_was_read_keeps_the_connection(live):
    sock = raw_request(live.port, f"POST /admin/reload HTTP/1.1\nHost: x\nX-API-Key: {KEY}\n"
                                  "Content-Type: application/json\nContent-Length: 2\n", b"{}")
    status, headers, _ = read_answer(sock)
    assert headers["connection"] == "keep-alive", (status, headers)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_answer(sock)[0] == 200
    sock.close()


# --- a worker stopped under load ----------------------------------------------------------------------------------

def test_workers_stopped_with_term_finish_every_request_they_had(live):
    # given 24 clients, each sending requests back to back on its own keep-alive connection
    stop = time.monotonic() + 8
    outcomes: list[str] = []

    def client() -> None:
        with requests.Session() as session:
            while time.monotonic() < stop:
                try:
                    answer = session.get(live.base + "/v1/creators", params={"limit": 300}, timeout=30)
                    outcomes.append(str(answer.status_code))
                except requests.RequestException as exc:
                    outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=client) for _ in range(24)]
    for thread in threads:
        thread.start()
    # when each worker in turn is stopped gracefully in the middle of it
    _, workers = gunicorn_workers(live.env["MICROLIFT_BIND"])
    for pid in workers:
        time.sleep(2)
        os.kill(pid, signal.SIGTERM)
    for thread in threads:
        thread.join()
    # then every request was answered, and gunicorn started new workers
    counts = {outcome: outcomes.count(outcome) for outcome in set(outcomes)}
    assert set(counts) == {"200"}, counts
    deadline = time.monotonic() + 60
    while set(workers) & set(after := gunicorn_workers(live.env["MICROLIFT_BIND"])[1]) or len(after) < len(workers):
        assert time.monotonic() < deadline, "the stopped workers were not replaced"
        time.sleep(0.5)


# --- what a browser or a bad client is sent -----------------------------------------------------------------------

def test_no_redirect_takes_its_host_from_the_request(live):
    redirected = []
    for path in ("//static//planner.css", "//static//planner.css?x=1", "/static//x//y"):
        sock = raw_request(live.port, f"GET {path} HTTP/1.1\nHost: evil.example\n")
        status, headers, _ = read_answer(sock)
        sock.close()
        if 300 <= status < 400:
            redirected.append(headers["location"])
    assert redirected, "routing no longer redirects these paths: this test no longer covers a redirect"
    for location in redirected:
        assert location.startswith("/") and not location.startswith("//") and "evil" not in location, location


def test_the_docs_page_has_the_planner_pages_policy(live):
    planner, docs = requests.get(live.base + "/", timeout=10), requests.get(live.base + "/docs", timeout=10)
    assert docs.status_code == 200 and planner.status_code == 200
    for name in ("Content-Security-Policy", "X-Frame-Options"):
        assert docs.headers[name] == planner.headers[name], name
    assert "frame-ancestors 'none'" in docs.headers["Content-Security-Policy"]
    assert "script-src 'self'" in docs.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("request_head", "status"), [
    ("GET /healthz HTTP/1.1\nHost: x\nX-Big: " + "a" * 9000 + "\n", 431),
    ("GET /healthz HTTP/7.1\nHost: x\n", 400),
    ("GET /healthz HTTP/1.1\nHost: x\nBad Header: y\n", 400),
], ids=["header-too-large", "bad-http-version", "bad-header-name"])
def test_requests_gunicorn_refuses_are_answered_as_problem_details(live, request_head, status):
    sock = raw_request(live.port, request_head)
    answered, headers, body = read_answer(sock)
    sock.close()
    assert answered == status and headers["content-type"] == "application/problem+json", body
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"] and problem["detail"], problem
