"""The planner page closes the loop in a real browser: save a plan, see its measured lift and the track record.

The system Chromium, driven by Playwright, against `microlift serve` with an API key; results are imported over
HTTP as a brand's shop would, from simulated daily sales.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import requests
from playwright.sync_api import Page, expect

from microlift.serving.auth import digest
from tests.integration.browser_support import planned, trained
from tests.service_support import free_port, service_env, serving

pytestmark = [pytest.mark.service, pytest.mark.slow]

KEY = "ml_page_campaigns_test_key"
# The browser's notes on answers the page expects and shows: a refused key, no results yet, a refused measurement.
EXPECTED = re.compile(r"Failed to load resource: .* status of (401|409|422)\b")
REFERENCE = "/?niche=home&product_price=21&baseline_units_per_month=542&weeks=13&budget=9917&platforms=instagram"
START = dt.date(2025, 3, 3)
WEEKS = 13


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> str:
    """One gunicorn worker on the shared models, with a catalog of its own (the campaigns kept here stay here) and
    an API key for the write routes."""
    models = trained(tmp_path_factory)
    root = tmp_path_factory.mktemp("web-campaigns")
    shutil.copy(models / "catalog.db", root / "catalog.db")
    env = service_env(root / "home", MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="1",
                      MICROLIFT_THREADS="4", MLFLOW_TRACKING_URI=f"sqlite:///{models / 'mlflow.db'}",
                      DATABASE_URL=f"sqlite:///{root / 'catalog.db'}", MICROLIFT_API_KEY_HASHES=digest(KEY),
                      MICROLIFT_RATE_LIMIT="0", GUNICORN_CMD_ARGS="--graceful-timeout 2")
    with serving(env, root / "serve.log", cwd=root) as url:
        yield url


@pytest.fixture
def page(browser, base):
    """A fresh page; any script error or unexpected console error (a CSP violation among them) fails the test."""
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and not EXPECTED.search(m.text) else None)
    yield page
    context.close()
    assert not problems, problems


def brand() -> str:
    """A brand of the test's own, so each test's campaigns and track record are its alone."""
    return f"brand-{uuid.uuid4().hex[:10]}"


def daily_sales(start: dt.date, weeks_before: int, lift: float, seed: int = 7) -> list[dict]:
    """A shop's daily unit sales: about 20 a day with a weekly pattern before the campaign, `lift` times that
    during its 13 weeks, and 4 weeks after at a level between."""
    rng = np.random.default_rng(seed)
    first = start - dt.timedelta(weeks=weeks_before)
    days = (weeks_before + WEEKS + 4) * 7
    rows = []
    for offset in range(days):
        date = first + dt.timedelta(days=offset)
        weekly = 1 + 0.25 * np.sin(2 * np.pi * date.weekday() / 7)
        during = start <= date < start + dt.timedelta(weeks=WEEKS)
        after = date >= start + dt.timedelta(weeks=WEEKS)
        level = 20 * weekly * (lift if during else (1 + (lift - 1) / 3) if after else 1)
        rows.append({"date": date.isoformat(), "units": int(rng.poisson(level))})
    return rows


def units(value: float) -> str:
    """A number of units as the page writes it: whole, halves rounded away from zero (as Intl.NumberFormat)."""
    return f"{Decimal(str(value)).quantize(Decimal(1), ROUND_HALF_UP):,}"


def keyed(base: str, path: str, body: dict) -> requests.Response:
    return requests.post(base + path, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=120)


def choose(page: Page, brand_name: str, campaign: str) -> None:
    """Show one brand's campaigns and track record, then the campaign's measurement."""
    page.get_by_label("Campaigns of brand all when empty", exact=True).fill(brand_name)
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("#campaigns")).to_have_attribute("aria-busy", "false")
    page.locator("#campaigns-table button.link", has_text=campaign).click()
    expect(page.locator("#measurement")).to_have_attribute("aria-busy", "false")


def test_a_saved_plan_is_measured_on_the_page_and_counted_in_the_track_record(page, base):
    # given the reference brief planned for a brand with no measured campaign yet
    name = brand()
    with page.expect_response("**/v1/forecast") as forecasted:
        page.goto(f"{REFERENCE}&brand={name}")
    planned(page)
    forecast = forecasted.value
    assert forecast.request.post_data_json["brand"] == name
    assert parse_qs(urlparse(page.url).query)["brand"] == [name]
    calibration = forecast.json()["calibration"]
    assert calibration["level"] == "none"
    expect(page.locator('[data-out="calibration"]')).to_contain_text("No measured campaign informs this forecast")
    # when the plan is saved with a name, a start date and the API key
    page.get_by_label("Campaign name optional", exact=True).fill("spring launch")
    page.get_by_label("Start date optional", exact=True).fill(START.isoformat())
    page.get_by_label("API key", exact=True).fill(KEY)
    with page.expect_response("**/v1/campaigns") as saving:
        page.get_by_role("button", name="Save plan").click()
    # then the service kept exactly the forecast on show, and the page says its id
    assert saving.value.status == 201
    sent = saving.value.request.post_data_json
    assert {k: v for k, v in sent.items() if k not in ("name", "start_date")} == forecast.request.post_data_json
    assert sent["name"] == "spring launch" and sent["start_date"] == START.isoformat()
    assert saving.value.request.headers["authorization"] == f"Bearer {KEY}"
    campaign = saving.value.json()["id"]
    saved = page.locator("#saved")
    expect(saved).to_contain_text(f"Saved as plan {campaign} for brand {name}")
    assert KEY not in page.url
    # when its measurement is opened before any result came in, then the page says there are none yet
    saved.get_by_role("link", name="its measurement").click()
    status = page.locator("#measurement-status")
    expect(status).to_have_attribute("data-state", "no-results")
    expect(status).to_contain_text("No results yet")
    expect(page.locator("#measurement-plot")).to_be_hidden()

    # when the shop's sales (16 weeks before, the campaign at 2.5 times the level, 4 weeks after) are imported
    imported = keyed(base, f"/v1/campaigns/{campaign}/results", {"sales": daily_sales(START, 16, 2.5)})
    assert imported.status_code == 200, imported.text
    measured = requests.get(f"{base}/v1/campaigns/{campaign}/measurement", timeout=30).json()
    # and the campaign is chosen among the brand's
    choose(page, name, "spring launch")
    # then the measured lift shows, with its 80% interval, the forecast beside it, and the picture loads
    expect(status).to_have_attribute("data-state", "measured")
    during = measured["incremental_units"]["during"]
    expect(page.locator('[data-out="m-during"]')).to_have_text(units(during["mean"]))
    expect(page.locator('[data-out="m-during-band"]')).to_have_text(
        f"80%: {units(during['p10'])} – {units(during['p90'])}")
    assert during["p10"] > 0, "a campaign at 2.5 times the usual sales was not measured as a lift"
    total = measured["incremental_units"]["total"]
    expect(page.locator('[data-out="m-total"]')).to_have_text(units(total["mean"]))
    planned_units = measured["forecast"]["incremental_units"]
    expect(page.locator('[data-out="m-forecast-band"]')).to_contain_text(
        f"{units(planned_units['p10'])} – {units(planned_units['p50'])} – {units(planned_units['p90'])}")
    plot = page.locator("#measurement-plot")
    expect(plot).to_be_visible()
    # the picture's address names the import, so that results imported again are drawn again
    expect(plot).to_have_attribute("src", re.compile(rf"^/v1/campaigns/{campaign}/measurement\.png\?imported=\d{{4}}-"))
    assert plot.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0  # decoded: a real picture
    assert "Unit sales of spring launch" in plot.get_attribute("alt")
    # and the brand's track record counts it, forecast range against the measured value, on a chart
    record = requests.get(f"{base}/v1/track-record", params={"brand": name}, timeout=30).json()
    assert record["campaigns"] == 1
    expect(page.locator("#track")).to_have_attribute("aria-busy", "false")
    expect(page.locator('[data-out="t-campaigns"]')).to_have_text("1")
    expect(page.locator('[data-out="t-inside"]')).to_have_text(f"{record['inside_80']:.0%}")
    expect(page.locator("#by-version-set tbody tr")).to_have_count(len(record["by_version_set"]))
    expect(page.locator("#by-version-set tbody td").first).to_have_text(record["by_version_set"][0]["versions"])
    expect(page.locator("#by-month tbody tr")).to_have_count(len(record["by_month"]))
    expect(page.locator("#track-chart .main-svg").first).to_be_attached()
    chart = page.evaluate("document.getElementById('track-chart').data")
    row = record["rows"][0]
    assert chart[0]["y"] == [row["forecast"]["p50"]] and chart[1]["y"] == [row["measured"]["p50"]]
    assert chart[0]["error_y"]["array"] == [pytest.approx(row["forecast"]["p90"] - row["forecast"]["p50"])]
    assert chart[0]["x"] == ["spring launch"]

    # when the brand plans again, then the forecast carries the calibration the service answers with
    with page.expect_response("**/v1/forecast") as again:
        page.get_by_label("Budget USD", exact=True).fill("9000")
        page.get_by_role("button", name="Plan the campaign").click()
    planned(page)
    note = again.value.json()["calibration"]["note"]
    expect(page.locator('[data-out="calibration"]')).to_contain_text(note[1:])


def test_a_pre_period_too_short_shows_the_reason_the_lift_is_not_measured(page, base):
    # given a plan kept over the API, and sales from only 4 weeks before the campaign
    name = brand()
    forecast_body = {"brief": {"niche": "home", "product_price": 21, "baseline_units_per_month": 542, "weeks": WEEKS,
                               "marketplace": "amazon", "compensation": "gifting", "platforms": ["instagram"]},
                     "budget": 3000, "brand": name, "name": "short history", "start_date": START.isoformat()}
    saved = keyed(base, "/v1/campaigns", forecast_body)
    assert saved.status_code == 201, saved.text
    campaign = saved.json()["id"]
    imported = keyed(base, f"/v1/campaigns/{campaign}/results", {"sales": daily_sales(START, 4, 2.5)})
    assert imported.status_code == 200, imported.text
    refusal = requests.get(f"{base}/v1/campaigns/{campaign}/measurement", timeout=30)
    assert refusal.status_code == 422
    # when the campaign is chosen on the page
    page.goto("/")
    choose(page, name, "short history")
    # then the page gives the service's reason, and no figures or picture
    status = page.locator("#measurement-status")
    expect(status).to_have_attribute("data-state", "refused")
    expect(status).to_have_text(f"Not measured: {refusal.json()['detail']}")
    expect(status).to_contain_text("weeks")
    expect(page.locator("#measurement-figures")).to_be_hidden()
    expect(page.locator("#measurement-plot")).to_be_hidden()
    # and the track record counts no campaign for the brand, and says so
    expect(page.locator('[data-out="t-campaigns"]')).to_have_text("0")
    expect(page.locator('[data-out="t-note"]')).to_contain_text("No measured campaign yet")
    expect(page.locator("#track-chart")).to_be_hidden()
    expect(page.locator("#track-splits")).to_be_hidden()


def test_saving_without_a_key_shows_the_refusal_by_the_key_field(page):
    # given a plan on show
    page.goto(REFERENCE)
    planned(page)
    # when it is saved without an API key
    with page.expect_response("**/v1/campaigns") as refused:
        page.get_by_role("button", name="Save plan").click()
    # then the service's 401 is shown by the key field, tied to it, and nothing is said to be saved
    assert refused.value.status == 401
    error = page.locator("#api_key-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("API key")
    key = page.get_by_label("API key", exact=True)
    expect(key).to_have_attribute("aria-invalid", "true")
    expect(key).to_have_attribute("aria-describedby", "api_key-error api-key-hint")
    expect(key).to_be_focused()
    expect(page.locator("#saved")).to_be_hidden()
    # when, with the key, a name longer than the service keeps is sent (the field's own limit lifted by script)
    page.get_by_label("API key", exact=True).fill(KEY)
    name = page.get_by_label("Campaign name optional", exact=True)
    name.evaluate("input => { input.maxLength = 100; }")
    name.fill("x" * 65)
    page.get_by_role("button", name="Save plan").click()
    # then the service's error sits by the name field, and the key's is gone
    expect(page.locator("#name-error")).to_contain_text("name: got")
    expect(page.locator("#api_key-error")).to_be_hidden()
    expect(name).to_have_attribute("aria-invalid", "true")


def test_a_plan_edited_since_it_was_shown_is_not_saved(page):
    # given a plan on show, then the brief edited
    page.goto(REFERENCE)
    planned(page)
    page.get_by_label("API key", exact=True).fill(KEY)
    page.get_by_label("Budget USD", exact=True).fill("5000")
    expect(page.locator("#save-stale")).to_contain_text("plan it again before saving")
    saves: list[str] = []
    page.on("request", lambda r: saves.append(r.url) if urlparse(r.url).path == "/v1/campaigns"
            and r.method == "POST" else None)
    # when Save plan is pressed, then nothing is sent and the page says to plan first
    page.get_by_role("button", name="Save plan").click()
    expect(page.locator("#save-error")).to_contain_text("Press Plan the campaign, then save")
    page.wait_for_timeout(300)
    assert saves == []
    expect(page.locator("#saved")).to_be_hidden()


def test_a_section_greys_its_answer_while_a_newer_one_loads(page):
    # given the page with its campaigns and track record loaded
    page.goto("/")
    expect(page.locator("#track")).to_have_attribute("aria-busy", "false")
    # when the track record is asked again and the network holds the answer back
    held = []
    page.route("**/v1/track-record*", lambda route: held.append(route))
    page.get_by_label("Campaigns of brand all when empty", exact=True).fill(brand())
    page.get_by_role("button", name="Show", exact=True).click()
    # then the section says it is loading and greys what it showed
    track = page.locator("#track")
    expect(track).to_have_attribute("aria-busy", "true")
    expect(track.locator(".loading")).to_be_visible()
    expect(track.locator(".answer")).to_have_class(re.compile(r"\bstale\b"))
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:  # the route's handler runs when Playwright next pumps events
        page.wait_for_timeout(50)
    assert len(held) == 1
    # when the answer arrives, then the greying goes
    held[0].continue_()
    expect(track).to_have_attribute("aria-busy", "false")
    expect(track.locator(".answer")).not_to_have_class(re.compile(r"\bstale\b"))
    expect(page.locator('[data-out="t-campaigns"]')).to_have_text("0")
