"""Operations: liveness, readiness, version, Prometheus metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import html
import json
from importlib import metadata

from flask import Blueprint, Response, current_app

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
    doc = current_app.extensions["microlift.openapi"]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>microlift API</title>"
             "<meta name='viewport' content='width=device-width, initial-scale=1'><style>body{font-family:system-ui,"
             "sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}code,pre{background:#f4f4f4}"
             "pre{padding:.5rem;overflow:auto;max-height:24rem}h2{border-top:1px solid #ddd;padding-top:1rem}</style>"
             f"</head><body><h1>microlift API {html.escape(doc['info']['version'])}</h1>"
             f"<p>{html.escape(doc['info']['description'])} The machine-readable document is "
             "<a href='/openapi.json'>/openapi.json</a>. Errors are RFC 9457 problem details "
             "(<code>application/problem+json</code>) naming the field, the value and what is accepted.</p>"]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            parts.append(f"<h2><code>{method.upper()} {html.escape(path)}</code></h2><p>"
                         f"{html.escape(op['summary'])}{' <strong>(API key)</strong>' if 'security' in op else ''}</p>")
            for p in op.get("parameters", []):
                parts.append(f"<div><code>{html.escape(p['name'])}</code> ({p['in']})</div>")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                parts.append(f"<p>Body ({html.escape(media)}):</p><pre>{html.escape(json.dumps(content['schema']))}"
                             "</pre>")
            codes = ", ".join(sorted(op["responses"]))
            parts.append(f"<p>Responses: {codes}</p>")
    parts.append("</body></html>")
    return page("".join(parts))
