"""POST /v1/rank and POST /v1/forecast: the validated body becomes the planning service's request; its
PlanningError becomes a 422 naming the field (serving.problems)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from flask import Blueprint, current_app

from microlift.models import calibration, planning
from microlift.models.contract import TABLES
from microlift.models.features import Columns
from microlift.serving import catalog, schemas
from microlift.serving.openapi import json_response, route
from microlift.serving.problems import Problem, invalid

bp = Blueprint("plan", __name__, url_prefix="/v1")


def runtime():
    return current_app.extensions["microlift"]


def models_or_503():
    bundle = runtime().bundle
    if bundle is None:
        raise Problem(503, "Service Unavailable", "no model is loaded: train and register models, point the "
                      f"'{runtime().settings.model_alias}' alias at them, then POST /admin/reload",
                      kind="model-unavailable", headers={"Retry-After": "30"})
    return bundle


def candidates_from(body) -> pd.DataFrame | Columns:
    """Inline candidates (checked for duplicate ids), or the catalog creators the filters match."""
    if body.candidates is not None and body.filters is not None:
        raise invalid("filters", body.filters.model_dump(exclude_none=True), "either candidates or filters, "
                      "not both")
    if body.candidates is not None:
        rows = candidate_frame(body.candidates)
        ids = rows["creator_id"].tolist()
        if len(set(ids)) < len(ids):  # the first id seen before names the field
            seen: set[str] = set()
            i = next(i for i, x in enumerate(ids) if x in seen or seen.add(x))
            raise invalid(f"candidates[{i}].creator_id", ids[i], "creator ids that appear once in the list")
        return rows
    snap = runtime().snapshot
    if snap is None:
        raise Problem(503, "Service Unavailable", "the catalog is not loaded yet", kind="catalog-unavailable")
    keep = catalog.mask(snap, body.filters)
    return snap.creators[keep].reset_index(drop=True) if not keep.all() else snap.creators


TEXT_FIELDS = {c.name for c in TABLES["creators"].columns if c.kind in ("id", "str")}


def candidate_frame(candidates: list) -> Columns:
    """Validated inline creators (schemas.Candidate dicts) as the engine's columns (`features.Columns`: no
    DataFrame to build for a request), column by column: text as Python strings, every other field as floats with
    NaN where absent, no history meaning zero posts."""
    columns = {}
    for name in schemas.Candidate.__annotations__:
        values = [c.get(name) for c in candidates]
        if name in TEXT_FIELDS:
            columns[name] = np.array(values, dtype=object)
        else:
            columns[name] = np.array(values, dtype=float)  # None becomes NaN
    for name in ("hist_posts", "track_posts"):
        columns[name] = np.nan_to_num(columns[name], nan=0.0)
    return Columns(columns, len(candidates))


@route(bp, "/rank", "POST", "Rank candidates by profit, ROI, conversions or engagement, with ranges and reasons",
       body=schemas.RankRequest, response=schemas.RankResponse, errors=(503,))
def rank_creators(body: schemas.RankRequest):
    bundle = models_or_503()
    request = schemas.rank_request(body)
    return json_response(planning.rank(request, candidates_from(body), bundle.models, bundle.describe(),
                                       runtime().service.request_deadline), finite=True)  # rounded: finite


@route(bp, "/forecast", "POST", "Choose a roster for the budget; forecast the sales lift and the budget curve",
       body=schemas.ForecastRequest, response=schemas.ForecastResponse, errors=(503,))
def forecast_campaign(body: schemas.ForecastRequest):
    return json_response(forecast_answer(body)[1], finite=True)  # rounded: finite


def forecast_answer(body: schemas.ForecastRequest) -> tuple[planning.ForecastRequest, dict]:
    """The planning service's forecast for a request body, calibrated by what its brand's campaigns measured."""
    bundle = models_or_503()
    request = schemas.forecast_request(body)
    request = dataclasses.replace(request, calibration=calibration_for(body.brand if body.calibrate else None,
                                                                       request.brief.niche, bundle.models,
                                                                       body.calibrate))
    return request, planning.forecast(request, candidates_from(body), bundle.models, bundle.describe(),
                                      runtime().service.request_deadline)


def calibration_for(brand: str | None, niche: str, models: dict, enabled: bool = True) -> calibration.Calibration:
    """The brand's calibration from its measured campaigns (or the niche's across brands when the brand has none);
    none when asked not to calibrate or when the lift model carries no residual spread."""
    lift = models.get("lift")
    prior = getattr(lift, "residual_sd", None) if lift is not None else None
    if not enabled or prior is None:
        return calibration.Calibration()
    brand_rows, niche_rows = runtime().calibration_rows(brand, niche)
    return calibration.calibrate(brand_rows, niche_rows, prior, brand, niche)
