"""Operations: liveness, readiness, version, Prometheus metrics, the OpenAPI document and its docs page (Swagger UI)."""

from __future__ import annotations

import json
from functools import cache
from importlib import metadata
from importlib.resources import files

from flask import Blueprint, Response, abort, current_app, render_template

from microlift.models.features import FEATURE_VERSION
from microlift.serving import metrics, schemas
from microlift.serving.openapi import route
from microlift.serving.views.web import page

bp = Blueprint("ops", __name__)


def service_version() -> str:
    try:
        return metadata.version("microlift")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@route(bp, "/healthz", "GET", "Alive: the process answers", response=schemas.Health)
def healthz():
    return {"status": "ok"}


@route(bp, "/readyz", "GET", "Ready: a model is loaded and the catalog database answers",
       response=schemas.Readiness, also=(503,))
def readyz():
    rt = current_app.extensions["microlift"]
    ready = rt.bundle is not None and rt.database_error is None and rt.snapshot is not None
    body = {"ready": ready, "models": rt.bundle.describe() if rt.bundle else None,
            "catalog_creators": len(rt.snapshot) if rt.snapshot is not None else None,
            "database": rt.database_error or "ok", "last_reload": rt.last_reload,
            "rate_limit": current_app.extensions["microlift.limiter"].describe()}
    return Response(json.dumps(body), status=200 if ready else 503, mimetype="application/json")


@route(bp, "/version", "GET", "Service, feature and model versions", response=schemas.VersionInfo)
def version():
    rt = current_app.extensions["microlift"]
    return {"service": service_version(), "feature_version": FEATURE_VERSION,
            "models": rt.bundle.describe() if rt.bundle else None}


@route(bp, "/metrics", "GET", "Prometheus metrics", raw_response="text/plain")
def prometheus():
    payload, media = metrics.exposition()
    return Response(payload, mimetype=media.split(";")[0], headers={"Content-Type": media})


@route(bp, "/openapi.json", "GET", "This API's OpenAPI 3.1 document", raw_response="application/json")
def openapi_document():
    return Response(json.dumps(current_app.extensions["microlift.openapi"]), mimetype="application/json")


@route(bp, "/docs", "GET", "The API reference as a page", raw_response="text/html")
def docs():
    """Swagger UI drawing /openapi.json: every operation with its parameters and its bodies' schemas (without
    scripts, a list of the operations)."""
    doc = current_app.extensions["microlift.openapi"]
    operations = [(method.upper(), path, op["summary"]) for path, methods in doc["paths"].items()
                  for method, op in methods.items()]
    return page(render_template("docs.html", version=doc["info"]["version"], operations=operations))


# The files of Swagger UI's dist that /docs loads, and their media types.
SWAGGER_UI = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}


@cache
def swagger_ui_file(name: str) -> bytes:
    """A file of Swagger UI as shipped inside the installed `flask-swagger-ui` package (never a copy in this
    repository; only its files are used, not its blueprint, whose page has an inline script)."""
    return files("flask_swagger_ui").joinpath("dist", name).read_bytes()


@bp.route("/vendor/swagger-ui/<name>", methods=["GET"])
def swagger_ui(name: str):
    if name not in SWAGGER_UI:
        abort(404)
    return Response(swagger_ui_file(name), mimetype=SWAGGER_UI[name],
                    headers={"Cache-Control": "public, max-age=86400"})
