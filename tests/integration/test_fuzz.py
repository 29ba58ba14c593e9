"""Fuzzing from the service's own OpenAPI document (schemathesis): valid and invalid requests to every operation
of a live gunicorn; no 5xx, and every answer matches what the document declares."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from microlift.serving.auth import digest
from tests.service_support import free_port, prepare_home, service_env, serving

pytestmark = [pytest.mark.slow, pytest.mark.service]
KEY = "fuzz-key"
MINIMUM_REQUESTS = 1000
# Requests per operation and generation mode; the costly planning routes get fewer.
EXAMPLES = {"/v1/forecast": 60, "/v1/rank": 120, "/admin/reload": 30, "/v1/campaigns": 60}
DEFAULT_EXAMPLES = 160


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzz-home")
    data = home / "data"
    env = service_env(home, MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="2",
                      MICROLIFT_API_KEY_HASHES=digest(KEY), MICROLIFT_RATE_LIMIT="0",
                      MICROLIFT_MAX_BODY_BYTES="300000")
    prepare_home(env, data, 1200, 60, 3)
    with serving(env, home / "serve.log", cwd=home) as base:
        yield base, home / "serve.log"


def test_generated_requests_never_get_a_5xx_nor_an_undocumented_answer(live):
    base, log = live
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    session = requests.Session()
    sent, statuses = 0, {}
    for result in schema.get_all_operations():
        operation = result.ok()
        path = operation.path
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            examples = EXAMPLES.get(path, DEFAULT_EXAMPLES)

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                nonlocal sent
                headers = {"X-API-Key": KEY} if sent % 2 else None  # half with the key, half without
                response = case.call(base_url=base, session=session, headers=headers, timeout=120)
                sent += 1
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} " \
                                                    f"{response.text[:300]}\nserver log:\n{log.read_text()[-2000:]}"
                if response.status_code == 400 and "Request Line is too large" in response.text:
                    return  # refused by gunicorn before the app (limit_request_line, 8,190 bytes; see README)
                if response.status_code == 413:
                    return  # a body past MICROLIFT_MAX_BODY_BYTES is refused, as documented, before it is read
                case.validate_response(response, excluded_checks=[positive_data_acceptance])

            try:
                run()
            except Unsatisfiable:  # nothing invalid to send to an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE, f"no valid request could be generated for {path}"
    print(f"\nfuzzing: {sent} requests, statuses {dict(sorted(statuses.items()))}")
    assert sent >= MINIMUM_REQUESTS
    assert not any(code >= 500 for code in statuses)
