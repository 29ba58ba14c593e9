"""Campaigns in the catalog database: the plans planners keep, the results brands import, the lift measured from
them, and the rows the track record and the brand calibration read.

An import is one transaction: the result rows, the creators' history and track record, the measurement and the
catalog revision (bumped by every import that changes anything) all change together or not at all.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, bindparam, delete, func, insert, select, update

from microlift.models.bounds import ID
from microlift.models.brief import LIMITS
from microlift.models.contract import TABLES
from microlift.models.economics import WEEKS_PER_MONTH
from microlift.models.errors import PlanningError, PlanningErrors
from microlift.models.features import CREATOR_HISTORY, merged_history
from microlift.models.measurement import MeasurementRefused, frequency
from microlift.models.planning import brief as checked_brief
from microlift.models.results import Results, new_campaign_id
from microlift.models.settings import MODEL_KINDS
from microlift.serving.catalog import (
    _one_import_at_a_time,
    campaign_invitations,
    campaign_measurements,
    campaign_posts,
    campaign_sales,
    campaigns,
    creators,
    service_state,
)

BAND = ("mean", "p10", "p50", "p90")
HISTORY = list(CREATOR_HISTORY)
POST_COLUMNS = ("post_id", "creator_id", "posted_at", "engagements", "sponsored", "format", "impressions", "clicks",
                "conversions", "cost")
NAME = re.compile(r"^[^\x00-\x1f\x7f-\x9f]{1,200}$")
CHUNK = 5000  # ids per IN (...) list: SQLite takes at most 32,766 parameters


class CampaignNotFound(LookupError):
    """No campaign has this id."""


class ResultsConflict(ValueError):
    """Other results are already stored for the campaign and replacing them was not asked."""


class PlanConflict(ValueError):
    """The call contradicts the stored plan (results marked unplanned for a planned campaign, another start date,
    length or brand)."""


@dataclass(frozen=True)
class Plan:
    """A kept campaign. `weeks` from the brief; `answer`: the forecast as answered (None for an unplanned campaign,
    which is measured but never compared with a forecast); `versions`: the model version set that answered."""

    id: str
    brand: str | None
    name: str | None
    created_at: str
    start_date: date | None
    weeks: float | None
    unplanned: bool
    brief: dict
    budget: float | None
    request: dict
    answer: dict | None
    versions: dict | None
    results_digest: str | None
    imported_at: str | None


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: `status` created (first results), unchanged (the same results again: nothing written) or
    replaced; rows stored per part; catalog creators whose history changed; warnings; the measurement (None when
    refused, with `refused` the reason)."""

    campaign_id: str
    status: str
    invitations: int
    posts: int
    sales: int
    creators_updated: int
    warnings: tuple[str, ...]
    measurement: dict | None
    refused: str | None


Measure = Callable[..., dict]


# --- plans -----------------------------------------------------------------------------------------------------

def save_plan(engine: Engine, *, brief: dict, budget: float | None, request: dict, answer: dict | None,
              versions: dict | None, brand: str | None = None, name: str | None = None,
              start_date: date | None = None, unplanned: bool = False) -> Plan:
    """Keep a plan (the brief, budget, request, the forecast as answered and its model version set) under a new
    id. Raises PlanningError naming every wrong field."""
    values = _plan_values(brief, budget, brand, name, start_date)
    row = {**values, "id": new_campaign_id(), "created_at": _now(), "unplanned": unplanned,
           "request": _json(request or {}), "answer": None if answer is None else _json(answer),
           "model_versions": None if versions is None else _json(versions), **_forecast_band(answer)}
    with engine.begin() as conn:
        conn.execute(insert(campaigns).values(**row))
    return get_plan(engine, row["id"])


def get_plan(engine: Engine, campaign_id: str) -> Plan | None:
    with engine.connect() as conn:
        row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one_or_none()
    return None if row is None else _plan(row)


def list_plans(engine: Engine, *, brand: str | None = None, limit: int = 100) -> list[Plan]:
    """Kept campaigns, newest first, of one brand when given."""
    query = select(campaigns).order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc()).limit(limit)
    if brand is not None:
        query = query.where(campaigns.c.brand == brand)
    with engine.connect() as conn:
        return [_plan(row) for row in conn.execute(query)]


def _plan_values(brief: dict, budget, brand, name, start_date) -> dict:
    """The stored columns of a plan's brief and labels, every wrong field reported at once."""
    wrong: list[PlanningError] = []
    weeks = niche = None
    try:
        validated = checked_brief(brief if isinstance(brief, dict) else {})
        weeks, niche = validated.weeks, validated.niche
    except PlanningError as exc:
        wrong.extend(exc.errors)
    if not isinstance(brief, dict):
        wrong.insert(0, PlanningError("brief", brief, "an object of brief fields"))
    low, high = LIMITS["budget"]
    if budget is not None and not (isinstance(budget, int | float) and math.isfinite(budget) and low <= budget <= high):
        wrong.append(PlanningError("budget", budget, f"a number of USD between {low:g} and {high:g}, or null"))
    if brand is not None and not (isinstance(brand, str) and ID.accepts(brand)):
        wrong.append(PlanningError("brand", brand, ID.words.replace("an id", "a brand name")))
    if name is not None and not (isinstance(name, str) and NAME.fullmatch(name)):
        wrong.append(PlanningError("name", name, "text of 1 to 200 characters, without control characters"))
    try:
        start_date = _date("start_date", start_date)
    except PlanningError as exc:
        wrong.append(exc)
    if wrong:
        raise PlanningErrors(wrong)
    return {"brand": brand, "name": name, "start_date": start_date, "weeks": weeks, "niche": niche,
            "brief": _json(brief), "budget": None if budget is None else float(budget)}


def _date(field: str, value) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PlanningError(field, value, "an ISO 8601 date (YYYY-MM-DD)") from None


def _forecast_band(answer: dict | None) -> dict:
    """The forecast's incremental units over the campaign, as columns: as answered (`forecast_*`, what the track
    record scores) and the models' own before any brand calibration (`models_*`, what a calibration learns from;
    the same when none applied). None without a forecast."""
    def band_of(value) -> dict | None:
        ok = isinstance(value, dict) and all(isinstance(value.get(q), int | float) for q in BAND)
        return {q: float(value[q]) for q in BAND} if ok else None

    answered = band_of(((answer or {}).get("forecast") or {}).get("incremental_units")) \
        if isinstance(answer, dict) else None
    calibration = (answer or {}).get("calibration") if isinstance(answer, dict) else None
    models = band_of((calibration or {}).get("models_incremental_units")) or answered
    return {**{f"forecast_{q}": answered[q] if answered else None for q in BAND},
            **{f"models_{q}": models[q] if models else None for q in BAND}}


def _plan(row) -> Plan:
    return Plan(row.id, row.brand, row.name, row.created_at, row.start_date, row.weeks, bool(row.unplanned),
                json.loads(row.brief), row.budget, json.loads(row.request) if row.request else {},
                json.loads(row.answer) if row.answer else None,
                json.loads(row.model_versions) if row.model_versions else None, row.results_digest, row.imported_at)


# --- results ---------------------------------------------------------------------------------------------------

def import_results(engine: Engine, campaign_id: str | None, results: Results, *, measure: Measure,
                   unplanned: bool = False, brief: dict | None = None, start_date: date | None = None,
                   weeks: float | None = None, brand: str | None = None, replace: bool = False) -> ImportOutcome:
    """Store a campaign's results, teach the catalog's creators their posts and measure the lift, in one
    transaction.

    A campaign never planned takes results only with `unplanned` (brief, start_date and weeks then required; with
    `campaign_id` None it gets the results' id). The same results again change nothing ("unchanged"); other results
    raise ResultsConflict unless `replace`, which takes the old ones out (the creators' history too) first. A
    refused measurement (`measure` raising MeasurementRefused) is stored with its reason; any other error leaves
    the database as it was."""
    if campaign_id is None and not unplanned:
        raise PlanningError("campaign_id", None, "the id of a kept plan, or unplanned results")
    campaign_id = campaign_id or results.campaign_id
    if results.campaign_id != campaign_id:
        raise PlanningError("campaign_id", campaign_id, f"{results.campaign_id}, the campaign the results were "
                            "checked for")
    digest = results.digest()
    with engine.begin() as conn:
        _one_import_at_a_time(conn)
        row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one_or_none()
        if row is None and not unplanned:
            raise CampaignNotFound(f"no campaign {campaign_id!r}: keep the plan first, or import the results as "
                                   "unplanned (with the brief, start date and weeks)")
        if row is None:
            plan = _unplanned(conn, campaign_id, brief, start_date, weeks, brand)
        else:
            plan = _plan(row)
            if unplanned and not plan.unplanned:
                raise PlanConflict(f"campaign {campaign_id} was planned (its forecast is kept): import its results "
                                   "without unplanned")
        start, filled = _schedule(plan, start_date, weeks, brand)
        if plan.results_digest == digest:
            return _unchanged(conn, plan, results)
        if plan.results_digest is not None and not replace:
            raise ResultsConflict(f"campaign {campaign_id} already has other results (imported {plan.imported_at});"
                                  " pass replace to replace them")
        _check_coverage(results.sales, start, plan.weeks)
        unmerged = _forget(conn, campaign_id) if plan.results_digest is not None else set()
        merged, missing = _store(conn, results)
        measured, refused = _measure(measure, results, start, plan.weeks)
        _store_measurement(conn, campaign_id, measured, refused)
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(
            results_digest=digest, imported_at=_now(), **filled))
        changed = unmerged | merged
        # a new revision even when no creator changed: the measurements that calibrate forecasts did, and workers
        # keep calibrations per revision (serving.runtime)
        conn.execute(update(service_state).where(service_state.c.id == 1).values(
            catalog_revision=service_state.c.catalog_revision + 1))
    warnings = results.warnings + _missing_creators(missing)
    parts = results.parts()
    return ImportOutcome(campaign_id, "replaced" if plan.results_digest else "created",
                         *(len(parts.get(name, ())) for name in ("invitations", "posts", "sales")), len(changed),
                         warnings, measured, refused)


def _unplanned(conn, campaign_id: str, brief: dict | None, start_date, weeks, brand) -> Plan:
    """A campaign row for results never planned: measured, never compared with a forecast."""
    wrong = []
    if not isinstance(brief, dict):
        wrong.append(PlanningError("brief", None, "the campaign's brief (niche, product_price, "
                                   "baseline_units_per_month, ...): required for unplanned results"))
    if start_date is None:
        wrong.append(PlanningError("start_date", None, "the campaign's first day (YYYY-MM-DD): required for "
                                   "unplanned results"))
    weeks = weeks if weeks is not None else (brief or {}).get("weeks")
    if weeks is None:
        wrong.append(PlanningError("weeks", None, "the campaign's length in weeks: required for unplanned results"))
    if wrong:
        raise PlanningErrors(wrong)
    values = _plan_values({**brief, "weeks": weeks}, None, brand, None, start_date)
    conn.execute(insert(campaigns).values(**values, id=campaign_id, created_at=_now(), unplanned=True))
    return _plan(conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one())


def _schedule(plan: Plan, start_date, weeks, brand) -> tuple[date, dict]:
    """The campaign's start (the plan's, or the call's when the plan has none) and what the call fills in; a call
    that contradicts the plan is a PlanConflict."""
    start_date = _date("start_date", start_date)
    filled = {}
    for field, given, kept in (("start_date", start_date, plan.start_date), ("brand", brand, plan.brand)):
        if given is not None and kept is not None and given != kept:
            raise PlanConflict(f"campaign {plan.id} has {field} {kept}, not {given}")
        if given is not None and kept is None:
            filled[field] = given
    if weeks is not None and plan.weeks is not None and not math.isclose(float(weeks), plan.weeks):
        raise PlanConflict(f"campaign {plan.id} runs {plan.weeks:g} weeks, not {weeks:g}")
    start = plan.start_date or start_date
    if start is None:
        raise PlanningError("start_date", None, f"the first day of campaign {plan.id} (YYYY-MM-DD): its plan has "
                            "none, so the results must say it")
    return start, filled


def _check_coverage(sales: pd.DataFrame, start: date, weeks: float) -> None:
    """Sales must reach the campaign's start from before it, or no lift can be measured."""
    first, last = sales["date"].min().date(), sales["date"].max().date()
    step = 7 if frequency(sales["date"]) == "weekly" else 1
    if first <= start < last + timedelta(days=step):
        return
    end = start + timedelta(days=round(weeks * 7) - 1)
    raise PlanningError("sales.date", f"{first} to {last}", f"sales from before the campaign's start through it "
                        f"(the campaign runs {start} to {end})")


def _unchanged(conn, plan: Plan, results: Results) -> ImportOutcome:
    counts = [int(conn.execute(select(func.count()).select_from(t).where(t.c.campaign_id == plan.id)).scalar_one())
              for t in (campaign_invitations, campaign_posts, campaign_sales)]
    kept = _measurement_row(conn, plan.id)
    measured = json.loads(kept.result) if kept is not None and kept.status == "measured" else None
    refused = kept.reason if kept is not None and kept.status == "refused" else None
    return ImportOutcome(plan.id, "unchanged", *counts, 0, results.warnings, measured, refused)


def _store(conn, results: Results) -> tuple[set[str], list[str]]:
    """Insert the result rows and merge the posts into their creators' history. Returns the creators changed and
    those missing from the catalog."""
    followers: dict[str, float] = {}
    changed: set[str] = set()
    if results.posts is not None and len(results.posts):
        stored = _catalog_rows(conn, results.posts["creator_id"].unique().tolist())
        followers = dict(zip(stored["creator_id"], stored["followers"].astype(float), strict=True))
        changed = _write_history(conn, stored, merged_history(stored, results.posts))
        posts = results.posts.assign(creator_followers=results.posts["creator_id"].map(followers))
        conn.execute(insert(campaign_posts), _rows(posts, ("campaign_id", *POST_COLUMNS, "creator_followers")))
    if results.invitations is not None and len(results.invitations):
        conn.execute(insert(campaign_invitations), _rows(results.invitations, ("campaign_id", "creator_id", "posted",
                                                                                "fee")))
    conn.execute(insert(campaign_sales), _rows(results.sales, ("campaign_id", "date", "units")))
    missing = [] if results.posts is None else sorted(set(results.posts["creator_id"]) - set(followers))
    return changed, missing


def _forget(conn, campaign_id: str) -> set[str]:
    """Take a campaign's stored results out: its rows, and its posts from the history of the creators they were
    merged into (counted with the followers they were merged with)."""
    posts = pd.DataFrame(conn.execute(
        select(campaign_posts.c.campaign_id, campaign_posts.c.creator_id, campaign_posts.c.engagements,
               campaign_posts.c.conversions, campaign_posts.c.creator_followers)
        .where(campaign_posts.c.campaign_id == campaign_id, campaign_posts.c.creator_followers.is_not(None)))
        .fetchall(), columns=["campaign_id", "creator_id", "engagements", "conversions", "creator_followers"])
    changed: set[str] = set()
    if len(posts):
        stored = _catalog_rows(conn, posts["creator_id"].unique().tolist())
        merged_with = posts.groupby("creator_id")["creator_followers"].first()
        counted = stored.assign(followers=stored["creator_id"].map(merged_with).astype(float))
        posts = posts.assign(engagements=posts["engagements"].astype(float),
                             conversions=pd.to_numeric(posts["conversions"], errors="coerce").astype(float))
        changed = _write_history(conn, stored, merged_history(counted, posts, remove=True))
    for table in (campaign_measurements, campaign_posts, campaign_invitations, campaign_sales):
        conn.execute(delete(table).where(table.c.campaign_id == campaign_id))
    return changed


def _catalog_rows(conn, ids: list[str]) -> pd.DataFrame:
    """The catalog's creators among `ids`: creator_id, followers and the history columns, sorted by id."""
    found = []
    for start in range(0, len(ids), CHUNK):
        found.extend(conn.execute(select(creators.c.creator_id, creators.c.followers,
                                         *[creators.c[name] for name in HISTORY])
                                  .where(creators.c.creator_id.in_(ids[start:start + CHUNK]))).fetchall())
    frame = pd.DataFrame(found, columns=["creator_id", "followers", *HISTORY])
    for name in ["followers", *HISTORY]:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    return frame.sort_values("creator_id", kind="stable").reset_index(drop=True)


def _write_history(conn, before: pd.DataFrame, after: pd.DataFrame) -> set[str]:
    """Update the history columns of the creators whose values changed; returns their ids."""
    old, new = before[HISTORY].to_numpy(dtype=float), after[HISTORY].to_numpy(dtype=float)
    same = np.isclose(old, new, rtol=1e-12, atol=0.0, equal_nan=True).all(axis=1)
    rows = [{"id": creator_id, **{name: _plain(value) for name, value in zip(HISTORY, values, strict=True)}}
            for creator_id, values, unchanged in zip(after["creator_id"], new, same, strict=True) if not unchanged]
    if rows:
        conn.execute(update(creators).where(creators.c.creator_id == bindparam("id"))
                     .values({name: bindparam(name) for name in HISTORY}), rows)
    return {row["id"] for row in rows}


def _measure(measure: Measure, results: Results, start: date, weeks: float) -> tuple[dict | None, str | None]:
    try:
        return measure(results.sales[["date", "units"]], start, weeks, results.attributed_units), None
    except MeasurementRefused as exc:
        return None, exc.message


def _store_measurement(conn, campaign_id: str, measured: dict | None, refused: str | None) -> None:
    during = (measured or {}).get("incremental_units", {}).get("during") or {}
    conn.execute(insert(campaign_measurements).values(
        campaign_id=campaign_id, status="refused" if measured is None else "measured", reason=refused,
        result=None if measured is None else _json(measured), measured_at=_now(),
        attributed_units=_plain((measured or {}).get("attributed_units")),
        **{f"during_{q}": _plain(during.get(q)) for q in BAND}))


def _missing_creators(missing: list[str]) -> tuple[str, ...]:
    if not missing:
        return ()
    return (f"{len(missing)} creator(s) of the posts are not in the catalog, so no history was kept for them: "
            f"{', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else ""),)


def measurement(engine: Engine, campaign_id: str) -> tuple[str, dict | str] | None:
    """("measured", result) or ("refused", reason); None while the campaign has no results. Raises
    CampaignNotFound for an unknown id."""
    with engine.connect() as conn:
        if conn.execute(select(campaigns.c.id).where(campaigns.c.id == campaign_id)).one_or_none() is None:
            raise CampaignNotFound(f"no campaign {campaign_id!r}")
        row = _measurement_row(conn, campaign_id)
    if row is None:
        return None
    return ("measured", json.loads(row.result)) if row.status == "measured" else ("refused", row.reason)


def _measurement_row(conn, campaign_id: str):
    return conn.execute(select(campaign_measurements).where(campaign_measurements.c.campaign_id == campaign_id)) \
        .one_or_none()


# --- keeping score ---------------------------------------------------------------------------------------------

def track_record_rows(engine: Engine, *, brand: str | None = None) -> list[dict]:
    """One row per measured planned campaign, oldest measurement first: campaign_id, brand, niche, created_at,
    measured_at, versions (the model version set, in words), forecast and measured bands of incremental units over
    the campaign ({mean, p10, p50, p90}), attributed_units."""
    return _scored(engine, brand=brand)


CALIBRATION_CAMPAIGNS = 500  # the most recent measured campaigns a calibration reads (a forecast's work is bounded)


def calibration_rows(engine: Engine, *, brand: str | None = None, niche: str | None = None) -> list[dict]:
    """The track record's rows of one brand and/or niche, oldest measurement first, with `forecast` the models' own
    forecast of each campaign (before any brand calibration): what a calibration learns from. At most the
    CALIBRATION_CAMPAIGNS most recent, so that a forecast reads a bounded number of rows whatever the history."""
    return [{**row, "forecast": row["models"]}
            for row in _scored(engine, brand=brand, niche=niche, latest=CALIBRATION_CAMPAIGNS)]


def _scored(engine: Engine, brand: str | None = None, niche: str | None = None,
            latest: int | None = None) -> list[dict]:
    m = campaign_measurements.c
    query = (select(campaigns.c.id, campaigns.c.brand, campaigns.c.niche, campaigns.c.created_at,
                    campaigns.c.model_versions, *[campaigns.c[f"forecast_{q}"] for q in BAND],
                    *[campaigns.c[f"models_{q}"] for q in BAND], m.measured_at,
                    *[m[f"during_{q}"] for q in BAND], m.attributed_units)
             .join(campaign_measurements, campaign_measurements.c.campaign_id == campaigns.c.id)
             .where(and_(m.status == "measured", campaigns.c.unplanned.is_(False),
                         campaigns.c.forecast_p50.is_not(None), m.during_p50.is_not(None)))
             .order_by(m.measured_at, campaigns.c.id))
    if brand is not None:
        query = query.where(campaigns.c.brand == brand)
    if niche is not None:
        query = query.where(campaigns.c.niche == niche)
    if latest is not None:  # the most recent, read newest first and put back in order
        query = query.order_by(None).order_by(m.measured_at.desc(), campaigns.c.id.desc()).limit(latest)
    with engine.connect() as conn:
        found = conn.execute(query).fetchall()
    if latest is not None:
        found = found[::-1]
    labels: dict[str | None, str] = {}
    rows = []
    for row in found:
        if row.model_versions not in labels:
            labels[row.model_versions] = versions_label(json.loads(row.model_versions) if row.model_versions
                                                        else None)
        rows.append({"campaign_id": row.id, "brand": row.brand, "niche": row.niche, "created_at": row.created_at,
                     "measured_at": row.measured_at, "versions": labels[row.model_versions],
                     "forecast": {q: row._mapping[f"forecast_{q}"] for q in BAND},
                     "models": {q: row._mapping[f"models_{q}"] if row.models_p50 is not None
                                else row._mapping[f"forecast_{q}"] for q in BAND},
                     "measured": {q: row._mapping[f"during_{q}"] for q in BAND},
                     "attributed_units": row.attributed_units})
    return rows


# The brief fields a contract `campaigns` row carries (data/README.md); the rest of a brief is planning only.
_BRIEF_COLUMNS = ("niche", "product_price", "baseline_units_per_month", "compensation", "margin", "marketplace",
                  "discount_code", "gift_value", "commission_rate")


def results_tables(engine: Engine) -> dict[str, pd.DataFrame]:
    """Every measured campaign (planned or not) as contract tables to train on (`microlift train --with-results`):
    `campaigns` with units per month during = the brief's baseline + the measured incremental units per month
    (the median of the measurement; after the campaign likewise, when measured), their `posts` and `invitations`,
    and the catalog rows of the creators they name. The lift model then learns from what was measured, the
    conversion and posting models from the posts and invitations."""
    m = campaign_measurements.c
    with engine.connect() as conn:
        found = conn.execute(select(campaigns, m.result).join(campaign_measurements, m.campaign_id == campaigns.c.id)
                             .where(m.status == "measured").order_by(campaigns.c.id)).fetchall()
        ids = [row.id for row in found]
        posts = pd.DataFrame(conn.execute(select(campaign_posts).where(campaign_posts.c.campaign_id.in_(ids)))
                             .fetchall(), columns=[c.name for c in campaign_posts.columns])
        invitations = pd.DataFrame(conn.execute(select(campaign_invitations).where(
            campaign_invitations.c.campaign_id.in_(ids))).fetchall(),
            columns=[c.name for c in campaign_invitations.columns])
        named = sorted(set(posts["creator_id"]) | set(invitations["creator_id"]))
        people = []
        for start in range(0, len(named), CHUNK):
            people.extend(conn.execute(select(*[creators.c[c.name] for c in TABLES["creators"].columns])
                                       .where(creators.c.creator_id.in_(named[start:start + CHUNK]))).fetchall())
    rows = []
    for row in found:
        brief, result = json.loads(row.brief), json.loads(row.result)
        baseline = float(brief["baseline_units_per_month"])
        months = float(row.weeks) / WEEKS_PER_MONTH
        after = result["incremental_units"].get("after")
        period = (result.get("periods") or {}).get("after") or {}
        rows.append({"campaign_id": row.id, **{k: brief.get(k) for k in _BRIEF_COLUMNS},
                     "start_date": row.start_date, "weeks": float(row.weeks),
                     "budget": float(row.budget) if row.budget is not None else float(
                         posts.loc[posts["campaign_id"] == row.id, "cost"].fillna(0).sum()),
                     "units_per_month_during": max(0.0, baseline + result["incremental_units"]["during"]["p50"]
                                                   / months),
                     "units_per_month_after": max(0.0, baseline + after["p50"] / (period["weeks"] / WEEKS_PER_MONTH))
                     if after and period.get("weeks") else None})
    tables = {"campaigns": pd.DataFrame(rows, columns=["campaign_id", *_BRIEF_COLUMNS, "start_date", "weeks", "budget",
                                                       "units_per_month_during", "units_per_month_after"]),
              "creators": pd.DataFrame(people, columns=[c.name for c in TABLES["creators"].columns])}
    known = tables["creators"]["creator_id"]  # creators missing from the catalog were warned of at import
    posts, invitations = posts[posts["creator_id"].isin(known)], invitations[invitations["creator_id"].isin(known)]
    if len(posts):
        tables["posts"] = posts[list(POST_COLUMNS) + ["campaign_id"]]
    if len(invitations):
        tables["invitations"] = invitations[["campaign_id", "creator_id", "posted", "fee"]]
    return tables


def versions_label(versions: dict | None) -> str:
    """A model version set in words, the same for the same set: "engagement v3, conversion v3, lift v2, posting v2"
    (the models in their usual order; what else an answer's `models` carries, its alias and set id, is left out)."""
    kinds = [k for k in MODEL_KINDS if k in (versions or {})]
    if not kinds:
        return "unknown"
    return ", ".join(f"{kind} v{versions[kind]}" for kind in kinds)


# --- values ----------------------------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _json(value) -> str:
    return json.dumps(value, default=_jsonable, separators=(",", ":"))


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, date | pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _plain(value):
    """A Python value for the database: None for missing, plain numbers."""
    if value is None or (isinstance(value, float | np.floating) and not np.isfinite(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict]:
    """Rows as plain Python values: NULL for missing, whole numbers as int, dates and times as Python's."""
    out = []
    kinds = {c: frame[c].dtype for c in columns}
    for record in frame[list(columns)].astype(object).to_dict("records"):
        row = {}
        for name, value in record.items():
            if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                row[name] = None
            elif isinstance(value, pd.Timestamp):
                row[name] = value.date() if name == "date" else value.to_pydatetime()
            elif name in ("engagements", "impressions", "clicks", "conversions"):
                row[name] = int(value)
            elif pd.api.types.is_bool_dtype(kinds[name]):
                row[name] = bool(value)
            else:
                row[name] = _plain(value)
        out.append(row)
    return out
