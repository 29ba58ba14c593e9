"""A real `microlift serve` for end-to-end tests: its home prepared through the command line, gunicorn in its own
process group, and an HTTP client that checks every answer against the served OpenAPI document."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from microlift.models.settings import MODEL_KINDS

BIN = Path(sys.executable).parent  # the virtualenv's bin: `microlift`
# CI (.ci/run) sets this: a test whose tool is missing (Chromium, nginx, Redis) fails there instead of skipping.
REQUIRE_ALL = os.environ.get("MICROLIFT_REQUIRE_ALL_TESTS") == "1"
# A Redis database the tests may add keys to (each under a prefix of its own, removed afterwards; never flushed).
REDIS_URL = os.environ.get("MICROLIFT_TEST_REDIS_URL", "")


def unavailable(reason: str):
    """Skip a test whose tool this machine lacks, saying why; under MICROLIFT_REQUIRE_ALL_TESTS=1 (CI), fail."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (MICROLIFT_REQUIRE_ALL_TESTS=1: every test must run)")
    pytest.skip(reason)


def redis_url() -> str:
    """The test Redis, or the test skipped (failed in CI) saying how to give one."""
    if not REDIS_URL:
        unavailable("set MICROLIFT_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15, a database the tests may add "
                    "keys to) to run the Redis tests")
    return REDIS_URL


def remove_redis_keys(pattern: str) -> None:
    """Delete the test Redis keys matching `pattern` (a test's own prefix): others share the database, so it is
    never flushed."""
    if REDIS_URL:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(pattern):
            client.delete(key)
OPENAPI_URI = "urn:microlift:openapi"
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")


@contextlib.contextmanager
def headless_chromium(executable: str):
    """A headless Chromium (the system one at `executable`) driven by Playwright, closed on leaving."""
    from playwright.sync_api import sync_playwright  # the browser tests' tool only

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=["--no-sandbox", "--disable-background-networking"])
        yield launched
        launched.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a microlift whose state lives in `home` (MLflow URIs derived from it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI",
                                                           "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(MICROLIFT_HOME=str(home), MLFLOW_DISABLE_TELEMETRY="true", OMP_WAIT_POLICY="PASSIVE",
               MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false", **extra)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def microlift(env: dict[str, str], *argv: str | Path, timeout: float = 300) -> str:
    """Run one `microlift` command; its stdout, or a test failure with its output."""
    done = subprocess.run([str(BIN / "microlift"), *map(str, argv)], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"microlift {' '.join(map(str, argv))} exited with {done.returncode}:\n"
                    f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def prepare_home(env: dict[str, str], data: Path, creators: int, campaigns: int, seed: int) -> None:
    """Through the command line: simulate a dataset into `data`, train and register the models, promote them to
    the alias, and import the creators into the catalog."""
    microlift(env, "simulate", "--creators", creators, "--campaigns", campaigns, "--seed", seed, "--out", data,
              "--quiet")
    microlift(env, "train", "--data", data, "--register", "--quiet")
    microlift(env, "promote", "--data", data, "--version", "latest", "--force")
    microlift(env, "import-creators", data)


def registered(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """`microlift models` read back: the versions the `champion` alias points at, and the latest ones.

    Each in the shape of the API's `models` object.
    """
    rows = [line.split() for line in microlift(env, "models").splitlines() if line.startswith("microlift-")]
    champion: dict[str, tuple[int, str]] = {}
    latest: dict[str, tuple[int, str]] = {}
    for row in rows:
        kind, version, version_set = row[0].removeprefix("microlift-"), int(row[1]), row[-1]
        if any("champion" in alias for alias in row[2:-1]):
            champion[kind] = (version, version_set)
        if version > latest.get(kind, (0, ""))[0]:
            latest[kind] = (version, version_set)
    return _as_models(champion, rows), _as_models(latest, rows)


def _as_models(found: dict[str, tuple[int, str]], rows: list[list[str]]) -> dict[str, str]:
    assert set(found) == set(MODEL_KINDS), rows
    sets = {version_set for _, version_set in found.values()}
    assert len(sets) == 1, f"versions from different trainings: {rows}"
    return {**{kind: str(version) for kind, (version, _) in found.items()}, "alias": "champion",
            "version_set": sets.pop()}


@contextlib.contextmanager
def background(argv: list[str], env: dict[str, str], log: Path, cwd: Path):
    """A process in its own process group, its output in `log`, always stopped (the whole group) on the way out."""
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def started(env: dict[str, str], log: Path, cwd: Path, path: str = "/readyz", timeout: float = 90):
    """`microlift serve` in its own process group until `path` answers 200 (/healthz needs no model); the whole
    group stopped on the way out."""
    base = f"http://{env['MICROLIFT_BIND']}"
    with background([str(BIN / "microlift"), "serve"], env, log, cwd) as process:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"microlift serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(base + path, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{base}{path} did not answer 200 within {timeout:.0f} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.3)
        yield process


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path, cwd: Path, timeout: float = 90):
    """`started` until /readyz says 200; yields the service's base URL."""
    with started(env, log, cwd, "/readyz", timeout):
        yield f"http://{env['MICROLIFT_BIND']}"


# --- the served OpenAPI document as a validator ---------------------------------------------------------------

def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class OpenAPI:
    """Validates a response against the schema the document declares for its path, method and status."""

    document: dict
    registry: Registry = field(init=False)
    templates: list[tuple[re.Pattern, str]] = field(init=False)

    def __post_init__(self):
        self.registry = Registry().with_resource(OPENAPI_URI, DRAFT202012.create_resource(self.document))
        self.templates = [(re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$"), p)
                          for p in self.document["paths"]]

    def template(self, path: str) -> str | None:
        exact = [t for regex, t in self.templates if regex.match(path) and "{" not in t]
        return exact[0] if exact else next((t for regex, t in self.templates if regex.match(path)), None)

    def validator(self, *pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{OPENAPI_URI}#/{_pointer(*pointer)}"}, registry=self.registry)

    def check(self, response: requests.Response) -> None:
        """Fails unless the document declares this status, this media type and a schema the body satisfies."""
        request = response.request
        path = requests.utils.urlparse(request.url).path
        template = self.template(path)
        assert template is not None, f"{path} is not in the OpenAPI document"
        operation = self.document["paths"][template].get(request.method.lower())
        assert operation is not None, f"{request.method} {template} is not in the OpenAPI document"
        status = str(response.status_code)
        assert status in operation["responses"], \
            f"{request.method} {path} answered {status}, which the document does not declare: {response.text[:300]}"
        media = response.headers.get("Content-Type", "").split(";")[0].strip()
        content = operation["responses"][status].get("content", {})
        assert media in content, f"{request.method} {path} {status} is {media!r}; the document says {list(content)}"
        if media.endswith("json"):
            errors = sorted(self.validator("paths", template, request.method.lower(), "responses", status,
                                           "content", media, "schema").iter_errors(response.json()),
                            key=lambda e: list(e.absolute_path))
            assert not errors, f"{request.method} {path} {status} breaks its schema: " + "; ".join(
                f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5])


@dataclass
class Api:
    """requests against the service; every answer to a documented route is checked against /openapi.json."""

    base: str
    key: str
    openapi: OpenAPI

    def call(self, method: str, path: str, *, check: bool = True, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        # A new connection each time: requests spread over the workers, and no idle keep-alive connection can be
        # closed by the server just as a POST is sent on it.
        response = requests.request(method, self.base + path, **kwargs)
        assert not TRACEBACK.search(response.text), f"{method} {path} leaked a traceback:\n{response.text[:2000]}"
        if check:
            self.openapi.check(response)
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def admin(self, path: str, **kwargs) -> requests.Response:
        """POST with the right API key."""
        return self.call("POST", path, headers={"X-API-Key": self.key, **kwargs.pop("headers", {})}, **kwargs)
