"""Campaigns: keep a forecast as a plan, import what happened, measure the lift, keep score.

POST /v1/campaigns forecasts the request exactly as POST /v1/forecast does (calibrated by the brand's measured
campaigns) and stores the answer: the track record compares what this service said, not what a client reports it
said. Results are validated by the data contract, stored in one transaction and measured at import
(`models.measurement`), so reading a measurement or the track record never fits a model.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from flask import Blueprint, Response, current_app

from microlift.models import measurement, track_record
from microlift.models.bounds import ID
from microlift.models.contract import ContractError
from microlift.models.results import results_from
from microlift.serving import campaigns, schemas
from microlift.serving.openapi import route
from microlift.serving.problems import Problem, echo, invalid
from microlift.serving.views.plan import forecast_answer

bp = Blueprint("campaigns", __name__, url_prefix="/v1")


def runtime():
    return current_app.extensions["microlift"]


def _id(campaign_id: str) -> str:
    if not ID.accepts(campaign_id):
        raise invalid("campaign_id", campaign_id, ID.words)
    return campaign_id


def _plan(campaign_id: str) -> campaigns.Plan:
    found = campaigns.get_plan(runtime().engine, _id(campaign_id))
    if found is None:
        raise Problem(404, "Not Found", f"no campaign {campaign_id!r}: POST /v1/campaigns keeps a plan and returns "
                      "its id; results of a campaign never planned here need \"unplanned\": true",
                      kind="unknown-campaign")
    return found


def describe(plan: campaigns.Plan) -> dict:
    """A kept plan as the API shows it, with what was imported and measured."""
    status = campaigns.measurement(runtime().engine, plan.id)
    out = {"id": plan.id, "brand": plan.brand, "name": plan.name, "created_at": plan.created_at,
           "start_date": str(plan.start_date) if plan.start_date else None, "weeks": plan.weeks,
           "unplanned": plan.unplanned, "budget": plan.budget, "brief": plan.brief, "models": plan.versions,
           "answer": plan.answer, "results_imported_at": plan.imported_at,
           "measurement": None if status is None else {"status": status[0]}}
    if status is not None and status[0] == "refused":
        out["measurement"]["reason"] = status[1]
    elif status is not None:
        out["measurement"]["incremental_units"] = status[1]["incremental_units"]
    return out


@route(bp, "/campaigns", "POST", "Keep a forecast as a campaign plan (forecasts the request, stores the answer "
       "and the model versions); returns its id", body=schemas.CampaignIn, status=201, auth=True, errors=(503,))
def save_campaign(body: schemas.CampaignIn):
    request, answer = forecast_answer(body)
    asked = body.model_dump(mode="json", exclude_none=True, exclude={"candidates"})
    if body.candidates is not None:
        asked["candidates"] = f"{len(body.candidates)} inline candidates"
    plan = campaigns.save_plan(runtime().engine, brief=body.brief.model_dump(exclude_none=True),
                               budget=body.budget, request=asked, answer=answer, versions=answer["models"],
                               brand=body.brand, name=body.name, start_date=body.start_date)
    return describe(plan)


@route(bp, "/campaigns", "GET", "The kept campaign plans, newest first (optionally one brand's)",
       query=schemas.TrackRecordQuery)
def list_campaigns(query: schemas.TrackRecordQuery):
    plans = campaigns.list_plans(runtime().engine, brand=query.brand)
    return {"campaigns": [{"id": p.id, "brand": p.brand, "name": p.name, "created_at": p.created_at,
                           "start_date": str(p.start_date) if p.start_date else None, "budget": p.budget,
                           "niche": p.brief.get("niche"), "unplanned": p.unplanned,
                           "results_imported_at": p.imported_at} for p in plans]}


@route(bp, "/campaigns/<campaign_id>", "GET", "One campaign: the plan as answered, and what was imported and "
       "measured", errors=(404, 422))
def get_campaign(campaign_id: str):
    return describe(_plan(campaign_id))


def _results(body: schemas.ResultsIn, campaign_id: str):
    parts = {name: pd.DataFrame(rows) for name, rows in (("invitations", body.invitations), ("posts", body.posts),
                                                          ("sales", body.sales)) if rows is not None}
    try:
        return results_from(parts, campaign_id, {name: name for name in parts})
    except ContractError as exc:
        # the field is where the value sits in the body: "sales[3].units" (rows are 1-based in the report)
        errors = [{"field": f"{f.file}[{f.row - 1}].{f.column}" if f.row is not None else f"{f.file}.{f.column}",
                   "value": echo(f.value), "accepted": f.accepted, "message": str(f)} for f in exc.failures[:50]]
        raise Problem(422, "Invalid results", f"{exc.headline}: {errors[0]['message']}", errors,
                      kind="invalid-field") from None


@route(bp, "/campaigns/<campaign_id>/results", "POST", "Import what happened (invitations, posts, unit sales); "
       "all or nothing, the same results twice change nothing; measures the lift at once",
       body=schemas.ResultsIn, auth=True, errors=(404, 409))
def import_results(campaign_id: str, body: schemas.ResultsIn):
    _id(campaign_id)
    results = _results(body, campaign_id)
    try:
        outcome = campaigns.import_results(
            runtime().engine, campaign_id, results, measure=measurement.measure, unplanned=body.unplanned,
            brief=body.brief.model_dump(exclude_none=True) if body.brief is not None else None,
            start_date=body.start_date, weeks=body.weeks, brand=body.brand, replace=body.replace)
    except campaigns.CampaignNotFound:
        _plan(campaign_id)  # the 404 with its advice
        raise
    except (campaigns.ResultsConflict, campaigns.PlanConflict) as exc:
        raise Problem(409, "Conflict", str(exc), kind="results-conflict") from None
    if outcome.creators_updated:
        runtime().sync_now()  # the next ranking reads the creators' new track record
    out = dataclasses.asdict(outcome)
    return out


def _measured(campaign_id: str) -> dict:
    plan = _plan(campaign_id)
    status = campaigns.measurement(runtime().engine, plan.id)
    if status is None:
        raise Problem(409, "Not measured", f"campaign {plan.id!r} has no results yet: POST them to "
                      f"/v1/campaigns/{plan.id}/results", kind="no-results")
    if status[0] == "refused":
        raise Problem(422, "Cannot be measured", f"campaign {plan.id!r}: {status[1]}",
                      [{"field": "sales", "value": None, "accepted": "at least "
                        f"{measurement.MIN_PRE_WEEKS} weeks of sales before the campaign, steady enough to learn "
                        "their usual level", "message": status[1]}], kind="not-measurable")
    result = dict(status[1])
    forecast = (plan.answer or {}).get("forecast") if not plan.unplanned else None
    result["forecast"] = None if forecast is None else {"incremental_units": forecast["incremental_units"]}
    result["campaign_id"] = plan.id
    result["results_imported_at"] = plan.imported_at
    return result


@route(bp, "/campaigns/<campaign_id>/measurement", "GET", "The measured lift: incremental units during and after "
       "the campaign with an 80% interval, from a structural time-series counterfactual fitted to the sales "
       "before it, beside the attributed units and the forecast", errors=(404, 409, 422))
def get_measurement(campaign_id: str):
    return _measured(campaign_id)


@route(bp, "/campaigns/<campaign_id>/measurement.png", "GET", "The measured lift as a picture: sales against the "
       "counterfactual and its 80% band", errors=(404, 409, 422), raw_response="image/png")
def measurement_png(campaign_id: str):
    result = _measured(campaign_id)
    png = measurement.plot_png(result, f"{result['campaign_id']}: measured lift")
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})


@route(bp, "/track-record", "GET", "Every measured campaign's forecast (p10-p50-p90) against its measured lift: "
       "the share inside the 80% range and the median error, by model version set and by month",
       query=schemas.TrackRecordQuery)
def get_track_record(query: schemas.TrackRecordQuery):
    return track_record.summarise(campaigns.track_record_rows(runtime().engine, brand=query.brand))
