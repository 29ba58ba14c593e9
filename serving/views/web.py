"""The planner page: a campaign brief form whose script calls /v1/rank and /v1/forecast and draws the answers.

These are pages, not JSON API operations, so they use plain `bp.route` and stay out of the OpenAPI document.
What every page and redirect of the service sends a browser is decided here too.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from urllib.parse import urlsplit

from flask import Blueprint, Response, render_template, request

from microlift.models.brief import LIMITS, NEEDS_MARGIN, OBJECTIVES
from microlift.models.economics import DEFAULT_COMMISSION
from microlift.models.vocabulary import COMPENSATIONS, MARKETPLACES, NICHES, PLATFORMS, TIERS

bp = Blueprint("web", __name__)

# The reference campaign (data/sample/reference_campaign.json): what the form shows before a planner changes it.
DEFAULTS = {"niche": "home", "platforms": ["instagram"], "product_price": 21, "marketplace": "amazon",
            "compensation": "gifting", "baseline_units_per_month": 542, "weeks": 13, "budget": 9917,
            "tiers": ["micro"], "max_price_per_post": "", "objective": "", "gift_value": 39, "margin": "",
            "commission_rate": ""}
# How the objective select names each ranking objective; an empty choice lets the API decide (profit with a margin,
# net revenue without).
OBJECTIVE_NAMES = {"net_revenue": "net revenue", "roas": "ROAS", "roi": "ROI", "attributed_units": "attributed units"}
# Scripts only from this origin; plotly injects its own <style> elements, hence 'unsafe-inline' for styles.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def page(html: str) -> Response:
    """An HTML page of the service, under its Content Security Policy; no other site may frame it."""
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": CSP, "X-Frame-Options": "DENY"})


@bp.after_app_request
def relative_redirect(response: Response) -> Response:
    """A redirect never names a host taken from the request: routing's own (e.g. `//static//x` to `/static/x`)
    builds an absolute URL from the Host header, which would send a browser to whatever host the request named."""
    if response.location:
        target = urlsplit(response.location)
        if target.netloc and target.netloc == request.host:
            # one leading slash: "//x" would be read as another host
            response.location = "/" + target.path.lstrip("/") + (f"?{target.query}" if target.query else "")
    return response


@cache
def plotly_bundle() -> bytes:
    """plotly.js as shipped inside the installed `plotly` Python package (never a copy in this repository)."""
    return files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()


def objective_labels() -> dict[str, str]:
    """Each objective's option text, saying which need the brief's gross margin; "" is the API's own choice."""
    labels = {"": "automatic"}
    for name in OBJECTIVES:
        text = OBJECTIVE_NAMES.get(name, name)
        labels[name] = f"{text} (needs a gross margin)" if name in NEEDS_MARGIN else text
    return labels


@bp.route("/", methods=["GET"])
def planner():
    vocab = {"niches": NICHES, "platforms": PLATFORMS, "tiers": TIERS, "compensations": COMPENSATIONS,
             "marketplaces": MARKETPLACES, "objectives": objective_labels()}
    return page(render_template("planner.html", defaults=DEFAULTS, limits=LIMITS,
                                default_commission=DEFAULT_COMMISSION, **vocab))


@bp.route("/vendor/plotly.min.js", methods=["GET"])
def plotly_js():
    return Response(plotly_bundle(), mimetype="text/javascript",
                    headers={"Cache-Control": "public, max-age=86400"})
