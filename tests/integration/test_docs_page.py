"""The API reference page in a real browser: the system Chromium, driven by Playwright, against `microlift serve`.

The page needs no model (it draws the OpenAPI document), so the service runs on an empty home and is waited for on
/healthz.
"""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from tests.service_support import free_port, headless_chromium, service_env, started, unavailable

pytestmark = [pytest.mark.service, pytest.mark.slow]

CHROMIUM = os.environ.get("MICROLIFT_CHROMIUM", "/usr/bin/chromium")
# Installed before any page script runs (Playwright's init scripts are not subject to the page's policy): every
# Content Security Policy violation the page causes is kept, whether or not the browser logs it.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "(inline)"}`));
"""
TITLE = ".json-schema-2020-12__title"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> str:
    """One gunicorn worker on an empty home, until the module ends."""
    root = tmp_path_factory.mktemp("docs-page")
    env = service_env(root / "home", MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="1",
                      MICROLIFT_THREADS="4", MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
                      DATABASE_URL=f"sqlite:///{root / 'catalog.db'}", GUNICORN_CMD_ARGS="--graceful-timeout 2")
    with started(env, root / "serve.log", root, "/healthz"):
        yield f"http://{env['MICROLIFT_BIND']}"


@pytest.fixture(scope="module")
def document(base) -> dict:
    return requests.get(base + "/openapi.json", timeout=10).json()


@pytest.fixture(scope="module")
def browser(base):
    """Chromium, closed before the server stops (gunicorn would wait out the browser's open connections)."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        unavailable(f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install -y chromium`, as "
                    "`make test` does with root) or point MICROLIFT_CHROMIUM at one")
    with headless_chromium(CHROMIUM) as launched:
        yield launched


@pytest.fixture
def page(browser, base):
    """A fresh page whose every request is recorded; a script error, a console error or a policy violation fails
    the test, and so does a request to any host but the service."""
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 1000})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    requested: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("request", lambda r: requested.append(r.url))
    yield page
    violations = page.evaluate("window.__violations")
    context.close()
    service = urlsplit(base).netloc
    elsewhere = [url for url in requested if urlsplit(url).scheme != "data" and urlsplit(url).netloc != service]
    assert any(url.endswith("/openapi.json") for url in requested), requested
    assert not elsewhere, f"requests to other hosts: {elsewhere}"
    assert not violations, violations
    assert not problems, problems


def schema(document: dict, reference: dict) -> dict:
    """The component a `$ref` names."""
    return document["components"]["schemas"][reference["$ref"].rsplit("/", 1)[-1]]


def fields(body: Locator, level: int) -> set[str]:
    """The property names Swagger UI shows at one nesting level of a drawn schema."""
    return set(body.locator(f'article[data-json-schema-level="{level}"] > .json-schema-2020-12-head {TITLE}')
               .all_inner_texts())


def opened(page: Page, operation: str) -> Locator:
    """The operation's block on the reference page, expanded."""
    page.goto("/docs")
    block = page.locator(f"#operations-plan-{operation}")
    block.locator(".opblock-summary-control").click()
    expect(block.locator(".opblock-body")).to_be_visible()
    return block


def test_the_forecast_request_body_is_drawn_field_by_field_with_types_limits_and_descriptions(page, document):
    # given the document's forecast request and the brief inside it
    operation = document["paths"]["/v1/forecast"]["post"]
    request = schema(document, operation["requestBody"]["content"]["application/json"]["schema"])
    brief = document["components"]["schemas"]["Brief"]
    # when the reference page opens the operation
    body = opened(page, "post_v1_forecast").locator(".opblock-section-request-body")
    # then its body is drawn as a schema, not an example: every field of the request and of its brief
    expect(body.locator(".json-schema-2020-12").first).to_be_visible()
    expect(body.get_by_text("brief", exact=True)).to_be_visible()
    assert fields(body, 1) == set(request["properties"]) and {"budget", "brief", "draws"} <= fields(body, 1)
    assert fields(body, 2) >= set(brief["properties"]) and "niche" in fields(body, 2)
    # and a field shows its type, its limits and its description as the document gives them
    price = body.locator('article[data-json-schema-level="2"]').filter(
        has=page.locator(f"{TITLE}:text-is('product_price')"))
    expect(price.locator(".json-schema-2020-12__attribute--primary").first).to_have_text("number")
    limits = brief["properties"]["product_price"]
    expect(price.locator(".json-schema-2020-12__constraint")).to_have_text(
        f"[{limits['minimum']:.15g}, {limits['maximum']:.15g}]")
    expect(price.get_by_text(limits["description"], exact=True)).to_be_visible()


def test_a_response_schema_shows_its_fields_and_nested_ones_after_expanding(page, document):
    # given the forecast's success and error answers in the document
    responses = document["paths"]["/v1/forecast"]["post"]["responses"]
    answer = schema(document, responses["200"]["content"]["application/json"]["schema"])
    problem = schema(document, responses["422"]["content"]["application/problem+json"]["schema"])
    # when the operation is opened
    block = opened(page, "post_v1_forecast")
    success = block.locator('tr.response[data-code="200"]')
    refused = block.locator('tr.response[data-code="422"]')
    # then the success answer shows every field of its schema, and so does the problem of a refused brief
    expect(success.locator(".json-schema-2020-12").first).to_be_visible()
    assert fields(success, 1) == set(answer["properties"])
    assert fields(refused, 1) == set(problem["properties"])
    # and the roster's creators, nested too deep to be drawn open, are not shown field by field yet
    rosters = schema(document, answer["properties"]["roster"])
    creators = rosters["properties"]["creators"]["items"]
    creator = schema(document, creators) if "$ref" in creators else creators
    roster = success.locator('article[data-json-schema-level="1"]').filter(
        has=page.locator(f"{TITLE}:text-is('roster')"))
    expect(roster.get_by_text("creator_id", exact=True)).to_have_count(0)
    # when the creators' item schema is expanded
    roster.locator(".json-schema-2020-12-keyword--items").first.get_by_role("button", name="Expand all").click()
    # then each creator's fields are drawn, with their descriptions
    expect(roster.get_by_text("creator_id", exact=True)).to_be_visible()
    assert set(creator["properties"]) <= set(roster.locator(TITLE).all_inner_texts())
    described = next(name for name, field in creator["properties"].items() if field.get("description"))
    expect(roster.get_by_text(creator["properties"][described]["description"], exact=True)).to_be_visible()


def test_the_page_answers_html_under_the_policy_and_its_files_are_cached(base):
    # when the page and the files it loads are asked for
    html = requests.get(base + "/docs", timeout=10)
    bundle = requests.get(base + "/vendor/swagger-ui/swagger-ui-bundle.js", timeout=30)
    style = requests.get(base + "/vendor/swagger-ui/swagger-ui.css", timeout=10)
    # then the page is HTML whose scripts come only from the service
    assert html.ok and html.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self';" in html.headers["Content-Security-Policy"]
    # and Swagger UI's files are typed and cacheable for a day
    assert bundle.headers["Content-Type"].startswith("text/javascript") and "SwaggerUIBundle" in bundle.text[:2000]
    assert style.headers["Content-Type"].startswith("text/css")
    assert bundle.headers["Cache-Control"] == style.headers["Cache-Control"] == "public, max-age=86400"
