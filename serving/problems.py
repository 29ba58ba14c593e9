"""One error shape for every failure: RFC 9457 problem details naming the field, the value and what is accepted."""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any

from flask import Flask, Response, json, request
from pydantic import ValidationError
from werkzeug.exceptions import ClientDisconnected, HTTPException

from microlift.models import workload
from microlift.models.errors import PlanningError, PlanningErrors

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An answer that is not a success: status, a short title, what happened and, for bad input, which fields."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict] | None = None,
                 kind: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.errors = errors or []
        self.kind = kind
        self.headers = headers or {}

    def response(self) -> Response:
        body = {"type": f"urn:microlift:problem:{self.kind}" if self.kind else "about:blank",
                "title": self.title, "status": self.status, "detail": self.detail,
                "instance": request.path if request else None, "errors": self.errors}
        out = Response(json.dumps(body), status=self.status, mimetype=MEDIA_TYPE)
        out.headers.update(self.headers)
        return out


def invalid(field: str, value: Any, accepted: str, message: str | None = None, status: int = 422) -> Problem:
    """A single wrong field."""
    message = message or f"{field}: got {_show(value)}; expected {accepted}"
    return Problem(status, "Invalid request", message,
                   [{"field": field, "value": echo(value), "accepted": accepted, "message": message}],
                   kind="invalid-field")


def from_planning(exc: PlanningError) -> Problem:
    """The planning service's typed error: wrong fields (every one of them), or a request no roster can
    satisfy."""
    errors = [{"field": e.field, "value": echo(e.value), "accepted": e.accepted, "message": e.message}
              for e in exc.errors[:50]]
    detail = exc.message if not isinstance(exc, PlanningErrors) else \
        errors[0]["message"] + (f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else "")
    if not exc.unplannable:
        return Problem(422, "Invalid request", detail, errors, kind="invalid-field")
    return Problem(422, "Cannot plan this campaign", detail, errors, kind="unplannable")


def from_validation(exc: ValidationError, prefix: str = "") -> Problem:
    """pydantic's errors, translated into field / value / accepted."""
    errors = []
    for error in exc.errors(include_url=False)[:50]:
        field = prefix + _path(error["loc"])
        accepted = _accepted(error)
        value = error.get("input") if error["type"] != "missing" else None
        got = "nothing (the field is missing)" if error["type"] == "missing" else _show(value)
        message = f"{field or 'body'}: got {got}; expected {accepted}"
        if error["type"] == "unknown_column":  # the field is the unknown column: say so, with the closest one
            message = f"{field}: {error['msg']}; expected {accepted}"
        errors.append({"field": field or "body", "value": echo(value), "accepted": accepted, "message": message})
    detail = errors[0]["message"] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    return Problem(422, "Invalid request", detail, errors, kind="invalid-field")


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-after", "literal[", "constrained-")) or part == "[key]":
            continue  # a mapping's key is named by the key itself: "limits.max_per_tier.giga"
        else:
            out += ("." if out else "") + str(part)
    return out


def _accepted(error: dict) -> str:
    ctx, kind = error.get("ctx") or {}, error["type"]
    if kind == "literal_error":  # as the contract and the brief list a vocabulary: "one of a, b, c"
        return "one of " + str(ctx.get("expected", "")).replace("' or '", "', '").replace("'", "")
    if kind == "unknown_column":
        return str(ctx.get("accepted", ""))
    if kind == "missing":
        return "a value (required)"
    if kind == "extra_forbidden":
        return "no such field; see the request schema in /openapi.json"
    bounds = {"greater_than_equal": ">= {ge}", "greater_than": "> {gt}", "less_than_equal": "<= {le}",
              "less_than": "< {lt}", "too_long": "at most {max_length} items", "too_short": "at least {min_length} "
              "items", "string_too_long": "at most {max_length} characters", "string_too_short": "at least "
              "{min_length} character(s)", "string_pattern_mismatch": "text matching {pattern}"}
    if kind in bounds:
        try:
            return bounds[kind].format(**ctx)
        except (KeyError, IndexError):
            pass
    if kind == "finite_number":
        return "a finite number"
    if kind.startswith(("int_", "float_")):
        return "a number" if kind.startswith("float_") else "a whole number"
    if kind.startswith("bool"):
        return "true or false"
    if kind.startswith("string"):
        return "text"
    if kind in ("list_type", "tuple_type"):
        return "a list"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "an object"
    return error["msg"]


def echo(value: Any) -> Any:
    """A JSON-safe echo of the offending value (shortened); numbers from numpy come back as plain numbers."""
    if value is None or isinstance(value, bool | str):
        return value[:200] if isinstance(value, str) else value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else str(value)
    return _show(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def install(app: Flask) -> None:
    """Every error, including Flask's own (404, 405, 413, ...) and unexpected ones, leaves as problem details."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return exc.response()

    @app.errorhandler(PlanningError)
    def _planning(exc: PlanningError):
        return from_planning(exc).response()

    @app.errorhandler(workload.DeadlineExceeded)
    def _deadline(exc: workload.DeadlineExceeded):
        log.warning("%s %s stopped at its deadline: %s", request.method, request.path, exc)
        retry = max(1, int(round(exc.seconds)))
        return Problem(503, "Service Unavailable", f"the request needed more than the service's deadline of "
                       f"{exc.seconds:g} s (MICROLIFT_REQUEST_DEADLINE); try a smaller one (fewer candidates or "
                       "draws, a narrower filter) or try again later", kind="deadline-exceeded",
                       headers={"Retry-After": str(retry)}).response()

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        detail = {413: f"the request body is larger than {request.max_content_length or 0:,} bytes",
                  405: f"{request.method} is not allowed on {request.path}",
                  404: f"nothing at {request.path}"}.get(exc.code or 500, exc.description or exc.name)
        if isinstance(exc, ClientDisconnected) and exc.__context__ is not None:  # why, from serving/worker.py
            detail = f"the request body was not received whole: {exc.__context__}"
        headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else {}
        return Problem(exc.code or 500, exc.name, detail, headers=headers).response()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return Problem(500, "Internal Server Error", "the server failed to answer; the error is in its log",
                       kind="internal").response()
