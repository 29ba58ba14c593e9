"""The creator catalog: list with filters and paging, one creator, and all-or-nothing bulk imports."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
from flask import Blueprint, current_app, request
from pydantic import RootModel

from microlift.models.bounds import ID
from microlift.models.contract import TABLES, ContractError, validate
from microlift.models.features import CREATOR_HISTORY
from microlift.serving import catalog, schemas
from microlift.serving.openapi import route
from microlift.serving.problems import Problem, echo, invalid

bp = Blueprint("creators", __name__, url_prefix="/v1/creators")
CSV, PARQUET = "text/csv", "application/vnd.apache.parquet"
INT_COLUMNS = [c.name for c in TABLES["creators"].columns if c.kind == "int"]


class CreatorList(RootModel):
    """A JSON list of creators."""

    root: schemas.CreatorRows  # type: ignore[valid-type]


def runtime():
    return current_app.extensions["microlift"]


def _plain(frame: pd.DataFrame) -> list[dict]:
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for record in out:
        for key, value in record.items():
            if isinstance(value, np.generic):
                value = value.item()
            if key in INT_COLUMNS and value is not None:
                value = int(value)
            record[key] = value
    return out


@route(bp, "", "GET", "List catalog creators matching filters, sorted by id, one page at a time",
       query=schemas.CreatorQuery, response=schemas.CreatorPage, errors=(503,))
def list_creators(query: schemas.CreatorQuery):
    snap = runtime().snapshot
    if snap is None:
        raise Problem(503, "Service Unavailable", "the catalog is not loaded yet", kind="catalog-unavailable")
    matched = np.flatnonzero(catalog.mask(snap, query.filters()))
    page = snap.creators.iloc[matched[query.offset:query.offset + query.limit]][catalog.COLUMNS]
    return {"total": int(len(matched)), "limit": query.limit, "offset": query.offset, "creators": _plain(page)}


@route(bp, "/<creator_id>", "GET", "One creator of the catalog", response=schemas.Creator,
       errors=(404, 422, 503))
def get_creator(creator_id: str):
    if not ID.accepts(creator_id):  # no stored id breaks the rule; a NUL byte would not even reach PostgreSQL
        raise invalid("creator_id", creator_id, ID.words)
    found = catalog.get_creator(runtime().engine, creator_id)
    if found is None:
        raise Problem(404, "Not Found", f"no creator {creator_id!r} in the catalog", kind="unknown-creator")
    return _plain(pd.DataFrame([found]))[0]


def frame_from_table(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """A contract creators table (CSV or Parquet), with the history columns it has, checked."""
    try:
        return validate("creators", raw, source=source).frame
    except ContractError as exc:
        errors = [{"field": f"row {f.row}.{f.column}" if f.row else f.column, "value": echo(f.value),
                   "accepted": f.accepted, "message": str(f)} for f in exc.failures[:50]]
        raise Problem(422, "Invalid creators file", f"{exc.headline}: {errors[0]['message']}", errors,
                      kind="invalid-field") from None


@route(bp, "/import", "POST", "Upsert creators from a contract creators file (CSV, Parquet) or a JSON list; "
       "all rows or none; warns of stored creators that look like another account (replace_history)",
       body=CreatorList, query=schemas.ImportQuery, response=schemas.ImportResponse, auth=True,
       media=("application/json", CSV, PARQUET))
def import_creators(body, query: schemas.ImportQuery):
    if isinstance(body, bytes):
        try:
            raw = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, na_values=[""]) \
                if request.mimetype == CSV else pd.read_parquet(io.BytesIO(body))
        except Exception as exc:  # any parser failure is the client's file, not our error
            raise Problem(400, "Unreadable file", f"the {request.mimetype} body cannot be read: {str(exc)[:200]}",
                          kind="unreadable-file") from None
        if raw.empty:
            raise invalid("body", "(no rows)", "at least one creator")
        frame = frame_from_table(raw, source="body")
    else:
        if not body.root:
            raise invalid("body", [], "a non-empty list of creators")
        frame = pd.DataFrame([c.model_dump() for c in body.root])
        duplicated = frame["creator_id"].duplicated()
        if duplicated.any():
            i = int(np.flatnonzero(duplicated.to_numpy())[0])
            raise invalid(f"[{i}].creator_id", frame["creator_id"].iloc[i], "creator ids that appear once")
        history = [n for n in CREATOR_HISTORY if frame[n].isna().all()]
        frame = frame.drop(columns=history)  # history not given: the stored history stays
    result = catalog.import_creators(runtime().engine, frame, replace_history=query.replace_history)
    runtime().sync_now()
    return dataclasses.asdict(result)
