"""POST /v1/rank and POST /v1/forecast: parse, call the engine, serialise."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from flask import Blueprint, current_app

from microlift.models import workload
from microlift.models.brief import Brief, BriefError
from microlift.models.candidates import score, score_with_matrices
from microlift.models.contract import TABLES
from microlift.models.forecast import forecast
from microlift.models.ranking import rank
from microlift.models.roster import Limits
from microlift.serving import catalog, schemas
from microlift.serving.openapi import route
from microlift.serving.problems import Problem, invalid

bp = Blueprint("plan", __name__, url_prefix="/v1")
LIMIT_FIELDS = set(schemas.LimitsIn.model_fields)


def runtime():
    return current_app.extensions["microlift"]


def models_or_503():
    bundle = runtime().bundle
    if bundle is None:
        raise Problem(503, "Service Unavailable", "no model is loaded: train and register models, point the "
                      f"'{runtime().settings.model_alias}' alias at them, then POST /admin/reload",
                      kind="model-unavailable", headers={"Retry-After": "30"})
    return bundle


def brief_from(body, budget: float | None = None) -> Brief:
    fields = {k: v for k, v in body.brief.model_dump().items() if v is not None}
    if budget is not None:
        fields["budget"] = budget
    try:
        return Brief.from_mapping(fields)
    except BriefError as exc:
        raise invalid(f"brief.{exc.field}", exc.value, exc.accepted) from None


def candidates_from(body) -> pd.DataFrame:
    """Inline candidates (checked for duplicate ids), or the catalog creators the filters match."""
    if body.candidates is not None and body.filters is not None:
        raise invalid("filters", body.filters.model_dump(exclude_none=True), "either candidates or filters, "
                      "not both")
    if body.candidates is not None:
        frame = candidate_frame(body.candidates)
        duplicated = frame["creator_id"].duplicated()
        if duplicated.any():
            i = int(np.flatnonzero(duplicated.to_numpy())[0])
            raise invalid(f"candidates[{i}].creator_id", frame["creator_id"].iloc[i], "creator ids that appear "
                          "once in the list")
        return frame
    snap = runtime().snapshot
    if snap is None:
        raise Problem(503, "Service Unavailable", "the catalog is not loaded yet", kind="catalog-unavailable")
    keep = catalog.mask(snap, body.filters)
    return snap.creators[keep].reset_index(drop=True) if not keep.all() else snap.creators


TEXT_FIELDS = {c.name for c in TABLES["creators"].columns if c.kind in ("id", "str")}


def candidate_frame(candidates: list) -> pd.DataFrame:
    """Validated inline creators (schemas.Candidate dicts) as the engine's frame, built column by column: text as
    Python strings, every other field as floats with NaN where absent, no history meaning zero posts."""
    columns = {}
    for name in schemas.Candidate.__annotations__:
        values = [c.get(name) for c in candidates]
        if name in TEXT_FIELDS:
            columns[name] = pd.Series(values, dtype=object)
        else:
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
    for name in ("hist_posts", "track_posts"):
        columns[name] = np.nan_to_num(columns[name], nan=0.0)
    return pd.DataFrame(columns)


def engine_error(exc: ValueError) -> Problem:
    """The engine's own ValueErrors say 'field: got X; expected Y'."""
    text = str(exc)
    found = re.match(r"^([\w.\[\]]+): got (.*); expected (.*)$", text, re.S)
    if found:
        return invalid(_field(found.group(1)), found.group(2), found.group(3), message=text)
    named = re.match(r"^(\w+): (.*)$", text, re.S)
    if named:
        field = _field(named.group(1))
        return Problem(422, "Cannot plan this campaign", f"{field}: {named.group(2)}",
                       [{"field": field, "value": None, "accepted": named.group(2), "message": text}],
                       kind="unplannable")
    return Problem(422, "Cannot plan this campaign", text, kind="unplannable")


def _field(name: str) -> str:
    return f"limits.{name}" if name in LIMIT_FIELDS else name


@route(bp, "/rank", "POST", "Rank candidates by profit, ROI, conversions or engagement, with ranges and reasons",
       body=schemas.RankRequest, response=schemas.RankResponse, errors=(503,))
def rank_creators(body: schemas.RankRequest):
    bundle = models_or_503()
    brief = brief_from(body, body.budget)
    creators = candidates_from(body)
    try:
        with within_deadline():
            scored, matrices = score_with_matrices(brief, creators, bundle.models)
            workload.check("scoring the candidates")
            ranked = rank(brief, creators, scored, bundle.models, body.objective, body.top_k, body.budget, matrices)
    except BriefError as exc:
        raise invalid(f"brief.{exc.field}", exc.value, exc.accepted) from None
    except ValueError as exc:
        raise engine_error(exc) from None
    return {"objective": body.objective, "candidates": len(creators), "models": bundle.describe(),
            "creators": ranked}


def within_deadline():
    """The engine's work under the service's per-request deadline (MICROLIFT_REQUEST_DEADLINE)."""
    return workload.deadline(runtime().service.request_deadline)


@route(bp, "/forecast", "POST", "Choose a roster for the budget; forecast the sales lift and the budget curve",
       body=schemas.ForecastRequest, response=schemas.ForecastResponse, errors=(503,))
def forecast_campaign(body: schemas.ForecastRequest):
    bundle = models_or_503()
    brief = brief_from(body, body.budget)
    creators = candidates_from(body)
    limits = None
    if body.limits is not None:
        raw = body.limits.model_dump()
        limits = Limits(**{k: tuple(v) if k in ("must_include", "exclude") else v for k, v in raw.items()})
    try:
        with within_deadline():
            scored = score(brief, creators, bundle.models)
            workload.check("scoring the candidates")
            out = forecast(brief, scored, bundle.models["lift"], body.budget, limits, draws=body.draws,
                           seed=body.seed, target_roas=body.target_roas)
    except ValueError as exc:
        raise engine_error(exc) from None
    return {"candidates": len(creators), "models": bundle.describe(), **out}
