"""The planner page: a campaign brief form whose script calls /v1/rank and /v1/forecast and draws the answers.

These are pages, not JSON API operations, so they use plain `bp.route` and stay out of the OpenAPI document.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from flask import Blueprint, Response, render_template

from models.brief import LIMITS, OBJECTIVES
from models.vocabulary import COMPENSATIONS, MARKETPLACES, NICHES, PLATFORMS, TIERS

bp = Blueprint("web", __name__)

# The reference campaign (data/sample/reference_campaign.json): what the form shows before a planner changes it.
DEFAULTS = {"niche": "home", "platforms": ["instagram"], "product_price": 21, "marketplace": "amazon",
            "compensation": "gifting", "baseline_units_per_month": 542, "weeks": 13, "budget": 9917,
            "tiers": ["micro"], "max_price_per_post": "", "objective": "profit", "gift_value": 39, "margin": ""}
# Scripts only from this origin; plotly injects its own <style> elements, hence 'unsafe-inline' for styles.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@cache
def plotly_bundle() -> bytes:
    """plotly.js as shipped inside the installed `plotly` Python package (never a copy in this repository)."""
    return files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()


@bp.route("/", methods=["GET"])
def planner():
    vocab = {"niches": NICHES, "platforms": PLATFORMS, "tiers": TIERS, "compensations": COMPENSATIONS,
             "marketplaces": MARKETPLACES, "objectives": OBJECTIVES}
    page = render_template("planner.html", defaults=DEFAULTS, limits=LIMITS, **vocab)
    return Response(page, mimetype="text/html", headers={"Content-Security-Policy": CSP})


@bp.route("/vendor/plotly.min.js", methods=["GET"])
def plotly_js():
    return Response(plotly_bundle(), mimetype="text/javascript",
                    headers={"Cache-Control": "public, max-age=86400"})
