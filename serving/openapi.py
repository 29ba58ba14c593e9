"""Typed routes: each one declares its body, query and response models; the same declarations parse requests and
build the OpenAPI 3.1 document served at /openapi.json."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import numpy as np
import orjson
from flask import Blueprint, Response, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from werkzeug.exceptions import RequestEntityTooLarge

from microlift.serving import schemas
from microlift.serving.auth import check as check_key
from microlift.serving.problems import MEDIA_TYPE, Problem, from_validation

JSON = "application/json"


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = False
    media: tuple[str, ...] = (JSON,)
    errors: tuple[int, ...] = ()
    raw_response: str | None = None  # a non-JSON success body (text/plain, text/html)
    path_params: dict[str, str] = field(default_factory=dict)
    also: tuple[int, ...] = ()  # other statuses whose body is the response model (e.g. 503 from /readyz)


OPERATIONS: list[Operation] = []


def route(bp: Blueprint, rule: str, method: str, summary: str, *, body=None, query=None, response=None,
          status: int = 200, auth: bool = False, media: tuple[str, ...] = (JSON,), errors: tuple[int, ...] = (),
          raw_response: str | None = None, also: tuple[int, ...] = ()) -> Callable:
    """Register a view that receives the parsed body/query model and returns a dict (or a Response)."""
    path = (bp.url_prefix or "") + rule
    params = {p.split(":")[-1].strip("<>"): "string" for p in rule.split("/") if p.startswith("<")}
    op = Operation(path.replace("<", "{").replace(">", "}"), method, summary, bp.name, body, query, response,
                   status, auth, media, errors, raw_response, params, also)
    OPERATIONS.append(op)

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def handler(**kwargs):
            if auth:
                check_key()
            if body is not None:
                kwargs["body"] = parse_body(body, media)
            if query is not None:
                kwargs["query"] = parse_query(query)
            result = view(**kwargs)
            if isinstance(result, Response):
                return result
            return json_response(result, status)

        bp.add_url_rule(rule, view.__name__, handler, methods=[method])
        return handler

    return decorate


def parse_body(model: type[BaseModel], media: tuple[str, ...]) -> Any:
    """The request body as `model`: 415 for another media type, 400 for broken JSON, 422 for wrong fields."""
    if request.mimetype not in media:
        raise Problem(415, "Unsupported Media Type", f"Content-Type {request.mimetype or '(none)'!r} is not "
                      f"accepted here; send {' or '.join(media)}", kind="unsupported-media-type")
    data = request.get_data(cache=True)  # 413 past the size limit when the client sends a Content-Length
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        # A chunked body is read only up to the limit, without an error: reaching it means the body is too large.
        raise RequestEntityTooLarge()
    if request.mimetype != JSON:
        return data
    try:
        # parsed and validated in one pass; NaN and Infinity reach the schema, which names the field holding them
        return model.model_validate_json(data or b"null")
    except ValidationError as exc:
        broken = [e for e in exc.errors() if e["type"] == "json_invalid" and not e["loc"]]
        if broken:
            raise Problem(400, "Malformed JSON", f"the body is not valid JSON: {broken[0]['msg'][:200]}",
                          kind="malformed-json") from None
        raise from_validation(exc) from None
    except RecursionError:
        raise Problem(400, "Malformed JSON", "the body is nested too deeply", kind="malformed-json") from None


def parse_query(model: type[BaseModel]) -> BaseModel:
    """Query string as `model`; list fields take repeated or comma-separated values."""
    raw: dict[str, Any] = {}
    lists = {name for name, f in model.model_fields.items() if "list" in str(f.annotation)}
    for key in request.args:
        values = request.args.getlist(key)
        if key in lists:
            raw[key] = [part for v in values for part in v.split(",")]  # an empty value is refused
        else:
            raw[key] = values[-1]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _default(value: Any) -> Any:
    """numpy's values and pydantic's models as JSON's; a non-finite number among them refused (ValueError)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        if not np.isfinite(value):
            raise ValueError(f"a non-finite number ({value}) in an answer")
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError("a non-finite number in an answer's array")
        return value.tolist()
    if isinstance(value, BaseModel):  # its floats checked by the strict encoder
        return json.loads(json.dumps(value.model_dump(), default=_default, allow_nan=False))
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(payload: Any, status: int = 200, finite: bool = False) -> Response:
    """Strict JSON (no NaN or Infinity: a non-finite number is a server bug, not something to send).

    `finite`: the payload's Python floats are known to be finite (a planning answer: `models.rounding` refuses any
    other), so orjson encodes it: ten times faster than the standard library on a ranking of 50 creators, the same
    bytes but for text beyond ASCII (UTF-8, not escapes), and a non-finite float would be written as null where the
    standard encoder refuses it."""
    if finite:
        return Response(orjson.dumps(payload, default=_default), status=status, mimetype=JSON)
    return Response(json.dumps(payload, default=_default, allow_nan=False, separators=(",", ":")),
                    status=status, mimetype=JSON)


def finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


# --- the document ----------------------------------------------------------------------------------------------

def document(version: str) -> dict:
    """The OpenAPI 3.1 document of every registered route."""
    models = [(schemas.Problem, "serialization")]
    for op in OPERATIONS:
        models += [(m, "validation") for m in (op.body, op.query) if m is not None]  # whatever the body's media
        if op.response is not None:
            models.append((op.response, "serialization"))
    keys, top = models_json_schema(list(dict.fromkeys(models)), ref_template="#/components/schemas/{model}")
    components = top.get("$defs", {})
    ref = lambda m, mode: keys[(m, mode)]  # noqa: E731
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {"summary": op.summary, "operationId": f"{op.method.lower()}_{_slug(op.path)}",
                                 "tags": [op.tag], "responses": {}}
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": kind}}
                      for name, kind in op.path_params.items()]
        if op.query is not None:
            schema = components[op.query.__name__]
            for name, prop in schema["properties"].items():
                parameters.append({"name": name, "in": "query", "required": name in schema.get("required", []),
                                   "schema": prop, "style": "form", "explode": True})
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            content = {}
            for media in op.media:
                content[media] = {"schema": ref(op.body, "validation")} if media == JSON else \
                    {"schema": {"type": "string"}}
            entry["requestBody"] = {"required": True, "content": content}
        success: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            success["content"] = {JSON: {"schema": ref(op.response, "serialization")}}
        elif op.raw_response:
            kind = "object" if op.raw_response == JSON else "string"
            success["content"] = {op.raw_response: {"schema": {"type": kind}}}
        entry["responses"][str(op.status)] = success
        for code in op.also:
            entry["responses"][str(code)] = {**success, "description": _REASONS.get(code, "Error")}
        problems = set(op.errors) | {500} | ({429} if op.path.startswith(("/v1/", "/admin/")) else set())
        if op.body is not None:
            problems |= {400, 413, 415, 422}
        if op.query is not None:
            problems |= {422}
        if op.auth:
            problems |= {401, 403}
            entry["security"] = [{"apiKey": []}, {"bearer": []}]
        problem = {MEDIA_TYPE: {"schema": ref(schemas.Problem, "serialization")}}
        for code in sorted(problems):
            entry["responses"][str(code)] = {"description": _REASONS.get(code, "Error"), "content": problem}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "microlift", "version": version,
                 "description": "Rank micro-influencers for a campaign, choose a roster that fits the budget and "
                                "forecast the sales lift, with ranges."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }


_REASONS = {400: "Malformed JSON", 401: "No API key", 403: "Wrong API key", 404: "Not found",
            413: "Body too large", 415: "Unsupported media type", 422: "Invalid field", 429: "Too many requests",
            500: "Server error", 503: "Not ready (no model loaded, or the database is down), or the request ran "
                                       "past the service's deadline (MICROLIFT_REQUEST_DEADLINE); see Retry-After"}


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "_").replace("{", "").replace("}", "").replace("-", "_") or "root"
