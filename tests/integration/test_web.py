"""The planner page in a real browser: the system Chromium, driven by Playwright, against `microlift serve`.

MICROLIFT_WRITE_SCREENSHOT=1 also writes docs/planner.png, the README's picture of the page.
"""

from __future__ import annotations

import csv
import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.integration.browser_support import planned, trained
from tests.service_support import free_port, service_env, serving

pytestmark = [pytest.mark.service, pytest.mark.slow]

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "planner.png"
MONEY = re.compile(r"[^\d.]")
REFUSED = re.compile(r"Failed to load resource: .* status of 422\b")  # the browser's note on a refused brief


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> str:
    """One gunicorn worker of its own (home, metrics, port) on the shared models and catalog, until the module ends."""
    models = trained(tmp_path_factory)
    root = tmp_path_factory.mktemp("web")
    env = service_env(root / "home", MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="1",
                      MICROLIFT_THREADS="4", MLFLOW_TRACKING_URI=f"sqlite:///{models / 'mlflow.db'}",
                      DATABASE_URL=f"sqlite:///{models / 'catalog.db'}",
                      # gunicorn waits out the browser's idle keep-alive connections on the way out
                      GUNICORN_CMD_ARGS="--graceful-timeout 2")
    with serving(env, root / "serve.log", cwd=root) as url:
        yield url


@pytest.fixture
def page(browser, base):
    """A fresh page; any script error or console error (a CSP violation among them) fails the test."""
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and not REFUSED.search(m.text) else None)
    yield page
    context.close()
    assert not problems, problems


def dollars(text: str) -> float:
    return float(MONEY.sub("", text))


def signed(text: str) -> float:
    """A number as the page writes it ("-$1,234.5", "12%"), sign kept."""
    return float(re.sub(r"[^\d.-]", "", text))


def test_the_reference_brief_plans_a_ranking_a_roster_a_forecast_and_a_chart(page, tmp_path):
    # given the page with its default brief, the reference campaign
    page.goto("/")
    expect(page.get_by_label("Budget USD", exact=True)).to_have_value("9917")
    # when the planner submits it
    page.get_by_role("button", name="Plan the campaign").click()
    planned(page)
    # then the brief is in the address bar, and there are ranked creators with ranges and reasons
    query = parse_qs(urlparse(page.url).query)
    assert query["budget"] == ["9917"] and query["platforms"] == ["instagram"] and query["tiers"] == ["micro"]
    rows = page.locator("#rank-table tbody tr")
    expect(rows.first).to_be_visible()
    assert 1 <= rows.count() <= 50
    first = rows.first.locator("td")
    assert first.nth(0).inner_text() == "1"
    assert re.search(r"-?\$[\d,.]+ – -?\$[\d,.]+", first.nth(9).inner_text()), "net revenue has no p10–p90 range"
    assert first.nth(11).locator("li").count() >= 1, "no reasons"
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"instagram"}
    # and a roster within the budget, split by tier and platform
    count = int(page.locator('[data-out="roster-count"]').inner_text().replace(",", ""))
    assert count > 0 and page.locator("#roster-table tbody tr").count() == count
    assert dollars(page.locator('[data-out="roster-cost"]').inner_text()) <= 9917
    expect(page.locator("#by-tier tr")).to_have_count(1)
    expect(page.locator("#by-tier td").first).to_have_text("micro")
    expect(page.locator("#by-platform td").first).to_have_text("instagram")
    # and a forecast card and a budget-response chart with its band and both budgets marked
    assert re.fullmatch(r"[\d,]+", page.locator('[data-out="units"]').inner_text())
    expect(page.locator('[data-out="units-band"]')).to_contain_text("p10–p90")
    expect(page.locator('[data-out="p-revenue"]')).to_have_text(re.compile(r"^\d+%$"))
    expect(page.locator("#forecast-title")).to_have_text("Forecast for a budget of $9,917")
    expect(page.locator("#curve-chart .scatterlayer .trace")).to_have_count(4)
    expect(page.locator("#curve-chart .annotation-text")).to_contain_text(["this budget"])
    page.screenshot(path=tmp_path / "planner.png", full_page=True)
    if os.environ.get("MICROLIFT_WRITE_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=DOCS_SCREENSHOT)
    assert (tmp_path / "planner.png").stat().st_size > 10_000


def test_the_ranking_sorts_and_the_roster_downloads_as_csv(page, tmp_path):
    # given a planned campaign
    page.goto("/?niche=home&product_price=21&baseline_units_per_month=542&weeks=13&budget=3000&platforms=instagram"
              "&margin=0.5")
    planned(page)
    # when the ROI column is sorted from the keyboard
    roi = page.locator("#rank-table th:has(button[data-sort=roi])")
    roi.get_by_role("button").focus()
    page.keyboard.press("Enter")
    # then the rows run from the highest expected ROI down
    expect(roi).to_have_attribute("aria-sort", "descending")
    means = [float(t.split("\n")[0].rstrip("%").replace(",", ""))
             for t in page.locator("#rank-table tbody td:nth-child(13)").all_inner_texts()]
    assert means == sorted(means, reverse=True) and len(means) > 1
    # when the roster is downloaded, then the file holds every roster creator
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with saved.open(newline="") as handle:
        records = list(csv.DictReader(handle))
    shown = page.locator("#roster-table tbody td:first-child").all_inner_texts()
    assert [r["creator_id"] for r in records] == shown
    assert sum(float(r["cost"]) for r in records) == pytest.approx(
        dollars(page.locator('[data-out="roster-cost"]').inner_text()), abs=1)


def test_a_shared_url_fills_the_form_and_a_bigger_budget_moves_the_forecast(page):
    # given a plan opened from a shared address
    page.goto("/?niche=pets&product_price=30&marketplace=shopify&compensation=gifting&baseline_units_per_month=200"
              "&weeks=8&budget=1000&platforms=instagram&platforms=tiktok&tiers=&objective=roi&margin=0.5")
    planned(page)
    expect(page.get_by_label("Product niche", exact=True)).to_have_value("pets")
    expect(page.get_by_label("Rank creators by", exact=True)).to_have_value("roi")
    expect(page.get_by_label("tiktok", exact=True)).to_be_checked()
    expect(page.get_by_label("micro", exact=True)).not_to_be_checked()
    small = dollars(page.locator('[data-out="revenue"]').inner_text())
    small_cost = dollars(page.locator('[data-out="roster-cost"]').inner_text())
    # when the budget is raised by keyboard alone
    page.get_by_label("Budget USD", exact=True).fill("8000")
    page.get_by_label("Budget USD", exact=True).press("Enter")
    expect(page.locator("#forecast-title")).to_have_text("Forecast for a budget of $8,000")
    planned(page)
    # then the address, the roster and the forecast follow
    assert parse_qs(urlparse(page.url).query)["budget"] == ["8000"]
    assert dollars(page.locator('[data-out="roster-cost"]').inner_text()) > small_cost
    assert dollars(page.locator('[data-out="revenue"]').inner_text()) > small
    # and going back shows the first plan again
    page.go_back()
    expect(page.locator("#forecast-title")).to_have_text("Forecast for a budget of $1,000")
    expect(page.get_by_label("Budget USD", exact=True)).to_have_value("1000")


def test_a_new_product_shows_its_forecast_and_why_it_has_no_lift_multiple(page):
    # given a launch: no sales before the campaign
    page.goto("/?niche=home&product_price=21&baseline_units_per_month=0&weeks=13&budget=3000&platforms=instagram")
    planned(page)
    # then the page shows units during the campaign, and says why there is no multiple
    expect(page.locator('[data-out="lift-band"]')).to_have_text("none: a new product has no sales to multiply")
    expect(page.locator('[data-out="notes"]')).to_contain_text("a new product (baseline 0 units/month)")
    assert int(page.locator('[data-out="units"]').inner_text().replace(",", "")) > 0


def test_bad_values_show_the_service_errors_next_to_their_fields(page):
    # given a price typed below zero and a budget set below the input's minimum by script
    page.goto("/")
    page.get_by_label("Product price USD", exact=True).fill("-3")
    page.get_by_label("Budget USD", exact=True).evaluate("input => { input.value = '-1'; }")
    # when submitted
    page.get_by_role("button", name="Plan the campaign").click()
    # then each error sits by its field, tied to it for assistive technology, and nothing else was drawn
    for name, accepted in (("product_price", ">= 0.01"), ("budget", ">= 0")):
        field = page.locator(f"#{name}")
        error = page.locator(f"#{name}-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text(accepted)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", f"{name}-error")
    expect(page.get_by_label("Product price USD", exact=True)).to_be_focused()
    expect(page.locator("#weeks-error")).to_be_hidden()
    expect(page.locator("#forecast")).to_be_hidden()
    # when corrected, then the errors go and the plan comes
    page.get_by_label("Product price USD", exact=True).fill("21")
    page.get_by_label("Budget USD", exact=True).fill("5000")
    page.get_by_role("button", name="Plan the campaign").click()
    planned(page)
    expect(page.locator("#product_price-error")).to_be_hidden()
    expect(page.locator("#product_price")).not_to_have_attribute("aria-invalid", "true")


def test_a_slow_forecast_shows_progress_and_the_page_stays_usable(page):
    # given a forecast the network holds back
    held = []
    page.route("**/v1/forecast", lambda route: held.append(route))
    page.goto("/")
    page.get_by_role("button", name="Plan the campaign").click()
    # then progress shows and the results say they are busy, while the form still takes input
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("#results")).to_have_attribute("aria-busy", "true")
    page.get_by_label("Campaign length weeks", exact=True).fill("10")
    expect(page.get_by_label("Campaign length weeks", exact=True)).to_have_value("10")
    # when the answer arrives, then progress goes and the plan is drawn
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:  # the route's handler runs when Playwright next pumps events
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    planned(page)
    expect(page.locator("#progress")).to_be_hidden()


def test_the_page_is_served_with_a_strict_policy_and_reads_on_a_phone(browser, base):
    # given the page, the chart library from the installed plotly package, and the API document
    page_response = requests.get(base + "/", timeout=10)
    bundle = requests.get(base + "/vendor/plotly.min.js", timeout=30)
    paths = requests.get(base + "/openapi.json", timeout=10).json()["paths"]
    # then scripts come only from this origin, and the pages are no API operations
    assert "script-src 'self'" in page_response.headers["Content-Security-Policy"]
    assert bundle.ok and bundle.text.lstrip().startswith("/**") and "plotly.js" in bundle.text[:200]
    assert "/" not in paths and "/vendor/plotly.min.js" not in paths
    # when planned on a phone-sized screen, then nothing is wider than the screen
    context = browser.new_context(base_url=base, viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        phone.goto("/?niche=home&product_price=21&baseline_units_per_month=542&budget=2000")
        planned(phone)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        for label in ("Product niche", "Product price USD", "Budget USD", "Max price per post USD, optional",
                      "Gross margin share 0–1, optional", "Rank creators by"):
            assert phone.get_by_label(label, exact=True).is_visible()
    finally:
        context.close()


def api_calls(page: Page) -> list[tuple[str, dict]]:
    """The page's calls to /v1/rank and /v1/forecast from now on: (path, JSON body)."""
    calls: list[tuple[str, dict]] = []
    page.on("request", lambda r: calls.append((urlparse(r.url).path, r.post_data_json))
            if urlparse(r.url).path in ("/v1/rank", "/v1/forecast") else None)
    return calls


PARTS = ("#forecast", "#curve", "#roster", "#ranking")


def test_an_error_greys_the_plan_on_show_under_a_banner_until_a_plan_succeeds(page):
    # given a plan on show
    page.goto("/?niche=home&product_price=21&baseline_units_per_month=542&weeks=13&budget=3000&platforms=instagram")
    planned(page)
    banner = page.locator("#stale")
    expect(banner).to_be_hidden()
    # when the brief is edited, then the plan is marked as no longer matching it
    page.get_by_label("Campaign length weeks", exact=True).fill("10")
    expect(banner).to_have_text(re.compile(r"^This plan is out of date: the brief has changed"))
    # when a brief the service refuses is planned
    page.get_by_label("Rank creators by", exact=True).select_option("profit")
    page.get_by_role("button", name="Plan the campaign").click()
    expect(page.locator("#objective-error")).to_contain_text("margin")
    # then the banner says why, and every part of the old plan is greyed and described by it
    expect(banner).to_be_visible()
    expect(banner).to_have_text(re.compile(r"^This plan is out of date: objective: got [\"']profit[\"']"))
    for part in PARTS:
        expect(page.locator(part)).to_have_class(re.compile(r"\bstale\b"))
        expect(page.locator(part)).to_have_attribute("aria-describedby", "stale")
    assert page.locator("#forecast").evaluate("node => getComputedStyle(node).opacity") == "0.45"
    # when the brief is mended and planned, then the banner and the greying go
    page.get_by_label("Gross margin share 0–1, optional", exact=True).fill("0.4")
    page.get_by_role("button", name="Plan the campaign").click()
    planned(page)
    expect(banner).to_be_hidden()
    for part in PARTS:
        expect(page.locator(part)).not_to_have_class(re.compile(r"\bstale\b"))
        expect(page.locator(part)).not_to_have_attribute("aria-describedby", "stale")
    expect(page.locator("#ranking [data-out=ranked-of]")).to_contain_text("by profit")


def test_the_reference_button_fills_in_the_reference_brief_and_plans_it(page):
    # given another plan opened from a shared address
    page.goto("/?niche=pets&product_price=30&baseline_units_per_month=200&weeks=8&budget=1000&platforms=tiktok")
    planned(page)
    calls = api_calls(page)
    # when the planner asks for the reference campaign
    page.get_by_role("button", name="Reference campaign").click()
    # then the form holds the reference brief, and it is planned as if Plan had been pressed
    expect(page.locator("#forecast-title")).to_have_text("Forecast for a budget of $9,917")
    planned(page)
    expect(page.get_by_label("Product niche", exact=True)).to_have_value("home")
    expect(page.get_by_label("Budget USD", exact=True)).to_have_value("9917")
    expect(page.get_by_label("instagram", exact=True)).to_be_checked()
    expect(page.get_by_label("tiktok", exact=True)).not_to_be_checked()
    assert sorted(path for path, _ in calls) == ["/v1/forecast", "/v1/rank"]
    assert all(body["brief"]["niche"] == "home" and body["budget"] == 9917 for _, body in calls)
    query = parse_qs(urlparse(page.url).query)
    assert query["niche"] == ["home"] and query["budget"] == ["9917"]


def test_a_budget_beyond_the_eligible_catalog_says_the_catalog_caps_the_roster(page):
    # given a budget far larger than every eligible creator costs
    with page.expect_response("**/v1/forecast") as answered:
        page.goto("/?niche=home&product_price=21&baseline_units_per_month=542&weeks=13&budget=50000000"
                  "&platforms=instagram&tiers=micro")
    planned(page)
    answer = answered.value.json()
    # then the heading says what was spent of the budget and that the catalog, not the budget, decided the roster
    assert answer["cap"] and answer["cap"]["by"] == "catalog"
    spend = f"${answer['cap']['spend']:,.0f}"
    expect(page.locator("#forecast-title")).to_have_text(re.compile(
        rf"^Forecast for {re.escape(spend)} of a \$50,000,000 budget: the eligible catalog .*caps the roster$"))
    assert dollars(page.locator('[data-out="roster-cost"]').inner_text()) == pytest.approx(
        answer["cap"]["spend"], abs=1)
    # and the answer's notes are shown, and the suggested budget says why
    notes = page.locator('[data-out="notes"] li')
    expect(notes).to_have_count(len(answer["notes"]))
    assert answer["notes"] and notes.all_inner_texts() == answer["notes"]
    expect(page.locator('[data-out="suggested"]')).to_contain_text(answer["suggested_budget"]["note"])


def test_a_bad_value_in_a_shared_link_is_named_with_the_value_the_link_holds(page):
    # given a shared address with a word for a price, an unknown niche and an unknown objective
    page.goto("/?niche=zzz&product_price=abc&baseline_units_per_month=542&budget=3000&objective=cheapest")
    # then each error names its field and the value from the link, not an empty one
    for name, value in (("product_price", "abc"), ("niche", "zzz"), ("objective", "cheapest")):
        error = page.locator(f"#{name}-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text(name)
        expect(error).to_have_text(re.compile(rf"\bgot [\"']{value}[\"']"))
    # and the address still says what the link said
    query = parse_qs(urlparse(page.url).query)
    assert query["product_price"] == ["abc"] and query["niche"] == ["zzz"]
    # when the fields are mended, then the plan comes
    page.get_by_label("Product niche", exact=True).select_option("home")
    page.get_by_label("Product price USD", exact=True).fill("21")
    page.get_by_label("Rank creators by", exact=True).select_option("")
    page.get_by_role("button", name="Plan the campaign").click()
    planned(page)
    assert parse_qs(urlparse(page.url).query)["product_price"] == ["21"]


def test_the_affiliate_commission_is_asked_for_affiliates_sent_and_kept_in_the_link(page):
    # given the reference brief, paid in gifts: no commission to ask for
    page.goto("/")
    commission = page.locator("#commission_rate")
    expect(commission).to_be_hidden()
    # when the campaign pays affiliates a commission of 25%
    page.get_by_label("Compensation", exact=True).select_option("affiliate")
    field = page.get_by_label("Affiliate commission share 0–1, optional", exact=True)
    expect(field).to_be_visible()
    expect(field).to_be_enabled()
    field.fill("0.25")
    calls = api_calls(page)
    page.get_by_role("button", name="Plan the campaign").click()
    planned(page)
    # then the brief sent carries it, and so does the address
    assert {path for path, _ in calls} == {"/v1/rank", "/v1/forecast"}
    assert all(body["brief"]["compensation"] == "affiliate" and body["brief"]["commission_rate"] == 0.25
               for _, body in calls)
    url = page.url
    assert parse_qs(urlparse(url).query)["commission_rate"] == ["0.25"]
    # and the link opens with it filled in
    page.goto(url)
    planned(page)
    expect(field).to_have_value("0.25")
    # when paid in gifts again, then the field goes and the brief leaves it out
    page.get_by_label("Compensation", exact=True).select_option("gifting")
    expect(commission).to_be_hidden()
    calls.clear()
    page.get_by_role("button", name="Plan the campaign").click()
    planned(page)
    assert "commission_rate" not in parse_qs(urlparse(page.url).query)
    assert calls and all("commission_rate" not in body["brief"] for _, body in calls)


def overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] \
        and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


@pytest.mark.parametrize("width", [420, 1280])
def test_the_chart_legend_never_covers_an_axis_title(browser, base, width):
    # given the chart drawn on a narrow and a wide screen
    context = browser.new_context(base_url=base, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto("/?niche=home&product_price=21&baseline_units_per_month=542&budget=3000&margin=0.4")
        planned(page)
        legend = page.locator("#curve-chart g.legend").bounding_box()
        titles = [page.locator(f"#curve-chart .{axis}title").bounding_box() for axis in ("x", "y")]
        # then the legend, with all its entries, overlaps neither axis title
        expect(page.locator("#curve-chart g.legend g.traces")).to_have_count(4)
        assert legend and all(titles)
        for title in titles:
            assert not overlap(legend, title), (legend, title)
    finally:
        context.close()


def test_the_money_words_need_a_margin_for_profit_and_roi(page):
    # given a plan without a gross margin
    with page.expect_response("**/v1/forecast") as answered:
        page.goto("/?niche=home&product_price=21&baseline_units_per_month=542&weeks=13&budget=3000"
                  "&platforms=instagram")
    planned(page)
    forecast = answered.value.json()["forecast"]
    # then the card shows ROAS and P(revenue > cost), and says ROI needs a margin instead of showing one
    expect(page.locator('[data-out="roas"]')).to_have_text(re.compile(r"^[\d.,]+×$"))
    expect(page.locator('[data-out="p-revenue"]')).to_have_text(f"{forecast['p_revenue_above_cost']:.0%}")
    expect(page.locator('[data-out="roi"]')).to_be_hidden()
    expect(page.locator('[data-out="p-roi"]')).to_be_hidden()
    missing = page.locator('[data-out="roi-missing"]')
    expect(missing).to_be_visible()
    expect(missing).to_have_text(re.compile(r"needs\s+a gross margin"))
    # and the margin field is in sight, saying what needs it; the link leads there
    margin = page.get_by_label("Gross margin share 0–1, optional", exact=True)
    expect(margin).to_be_visible()
    expect(page.locator("#margin-hint")).to_contain_text("ROI")
    missing.click()
    expect(margin).to_be_focused()
    assert urlparse(page.url).fragment == ""
    # when a margin is given, then ROI and P(ROI > 0) appear
    margin.fill("0.4")
    page.get_by_role("button", name="Plan the campaign").click()
    expect(page.locator('[data-out="roi"]')).to_be_visible()
    planned(page)
    expect(page.locator('[data-out="roi"]')).to_have_text(re.compile(r"^-?[\d,]+%$"))
    expect(page.locator('[data-out="p-roi"]')).to_have_text(re.compile(r"^\d+%$"))
    expect(missing).to_be_hidden()


def header_texts(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#rank-table thead th:visible").all_inner_texts()]


def test_the_ranking_columns_say_what_units_and_revenue_mean_and_the_objective_follows_the_margin(page):
    # given the objective select, and a plan without a margin and no objective chosen
    page.goto("/")
    objective = page.get_by_label("Rank creators by", exact=True)
    values = objective.locator("option").evaluate_all("options => options.map(o => [o.value, o.textContent])")
    assert [v for v, _ in values] == ["", "profit", "net_revenue", "roas", "roi", "attributed_units", "engagement"]
    labels = dict(values)
    assert "needs a gross margin" in labels["profit"] and "needs a gross margin" in labels["roi"]
    assert "needs" not in labels["net_revenue"] and labels["roas"] == "ROAS"
    expect(objective).to_have_value("")
    calls = api_calls(page)
    page.get_by_role("button", name="Plan the campaign").click()
    planned(page)
    # then the request leaves the choice to the service, which ranks by net revenue
    rank_body = next(body for path, body in calls if path == "/v1/rank")
    assert "objective" not in rank_body
    expect(page.locator('[data-out="ranked-of"]')).to_contain_text("by net revenue")
    # and the columns are the money words without profit and ROI, explained under the table and in their titles
    assert header_texts(page)[5:12] == ["engagements", "attributed units", "incremental revenue", "cost",
                                        "net revenue", "ROAS", "reasons"]
    expect(page.locator("#rank-table tbody tr").first.locator("td")).to_have_count(12)
    note = page.locator("#rank-explained")
    expect(note).to_be_visible()
    expect(note).to_contain_text("own code or link")
    expect(note).to_contain_text("halo included")
    expect(note).to_contain_text("not attributed units × price")
    assert "code or link" in page.locator("#rank-table th:has(button[data-sort=attributed_units])").get_attribute(
        "title")
    assert "halo" in page.locator("#rank-table th:has(button[data-sort=incremental_revenue])").get_attribute("title")
    # when a margin is given, then the service ranks by profit and profit and ROI columns appear
    page.get_by_label("Gross margin share 0–1, optional", exact=True).fill("0.4")
    page.get_by_role("button", name="Plan the campaign").click()
    expect(page.locator('[data-out="ranked-of"]')).to_contain_text("by profit")
    planned(page)
    assert header_texts(page)[5:14] == ["engagements", "attributed units", "incremental revenue", "cost",
                                        "net revenue", "ROAS", "profit", "ROI", "reasons"]
    expect(page.locator("#rank-table tbody tr").first.locator("td")).to_have_count(14)


def test_totals_are_expected_values_and_each_creator_shows_its_mean_and_range(page):
    # given a planned campaign, with the service's answers at hand
    with page.expect_response("**/v1/forecast") as forecasted, page.expect_response("**/v1/rank") as ranked:
        page.goto("/?niche=home&product_price=21&baseline_units_per_month=542&weeks=13&budget=3000"
                  "&platforms=instagram")
    planned(page)
    forecast, ranking = forecasted.value.json(), ranked.value.json()
    # then the card's totals are the means of their bands, not the medians
    outlook = forecast["forecast"]
    assert signed(page.locator('[data-out="revenue"]').inner_text()) == pytest.approx(
        outlook["incremental_revenue"]["mean"], abs=0.51)
    assert signed(page.locator('[data-out="cost"]').inner_text()) == pytest.approx(outlook["cost"]["mean"], abs=0.51)
    assert float(page.locator('[data-out="units"]').inner_text().replace(",", "")) == pytest.approx(
        outlook["units_per_month_during"]["mean"], abs=0.51)
    # and the roster's attributed units add up the creators' expected units
    units = sum(c["attributed_units"] for c in forecast["roster"]["creators"])
    assert float(page.locator('[data-out="roster-units"]').inner_text().replace(",", "")) == pytest.approx(
        units, abs=0.006)
    # and the chart's line is the curve's means
    line = page.evaluate("document.getElementById('curve-chart').data[2].y")
    assert line == [p["incremental_revenue"]["mean"] for p in forecast["budget_curve"]]
    # and each ranked creator shows its expected incremental revenue over its p10–p90 range
    first = ranking["creators"][0]["incremental_revenue"]
    shown = page.locator("#rank-table tbody tr").first.locator("td").nth(7).inner_text().split("\n")
    assert signed(shown[0]) == pytest.approx(first["mean"], abs=0.51)
    low, high = shown[1].split(" – ")
    assert (signed(low), signed(high)) == (pytest.approx(first["p10"], abs=0.51),
                                             pytest.approx(first["p90"], abs=0.51))
