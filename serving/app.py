"""The Flask app factory: configuration from the environment, the catalog database, the models, the routes."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

from flask import Flask, g, request

from microlift.models.settings import Settings, process_environment
from microlift.serving import auth, catalog, metrics, problems
from microlift.serving.openapi import document
from microlift.serving.ratelimit import Limiter
from microlift.serving.runtime import Runtime
from microlift.serving.settings import ServiceSettings
from microlift.serving.views import admin, campaigns, creators, ops, plan, web

log = logging.getLogger(__name__)


def create_app(environ: Mapping[str, str] | None = None) -> Flask:
    """Build the service. `environ` overrides environment variables (tests use it for a temporary home)."""
    env = {**os.environ, **(environ or {})}
    process_environment()
    settings, service = Settings.from_env(env), ServiceSettings.from_env(env)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = service.max_body_bytes
    engine = catalog.engine_for(service.database_url)
    if not catalog.at_head(engine):
        catalog.migrate(service.database_url)
    runtime = Runtime(settings, service, engine, auth.load_digests(service.api_key_hashes, service.api_keys_file))
    runtime.start()
    app.extensions["microlift"] = runtime
    app.extensions["microlift.limiter"] = Limiter(service.rate_limit, service.redis_url)

    for blueprint in (ops.bp, plan.bp, campaigns.bp, creators.bp, admin.bp, web.bp):
        app.register_blueprint(blueprint)
    app.extensions["microlift.openapi"] = document(ops.service_version())
    problems.install(app)

    @app.before_request
    def _before():
        g.started = time.perf_counter()
        if request.endpoint in ("creators.import_creators", "campaigns.import_results"):
            request.max_content_length = service.max_import_bytes
        if request.path.startswith(("/v1/", "/admin/")):
            app.extensions["microlift.limiter"].check(auth.caller(), request.remote_addr)
        if request.path.startswith(("/v1/", "/admin/")) or request.endpoint in ("ops.readyz", "ops.version"):
            runtime.sync()  # pages, static files, health and metrics never touch the database

    @app.after_request
    def _after(response):
        rule = request.url_rule.rule if request.url_rule is not None else None
        labels = metrics.request_labels(rule, request.method, response.status_code)
        metrics.REQUESTS.labels(*labels).inc()
        if "started" in g:
            metrics.LATENCY.labels(*labels).observe(time.perf_counter() - g.started)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        bundle = runtime.bundle
        if bundle is not None:
            response.headers["X-Microlift-Models"] = ",".join(f"{k}={v}" for k, v in bundle.versions.items())
        return response

    return app
