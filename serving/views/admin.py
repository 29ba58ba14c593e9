"""POST /admin/reload: load the configured registry alias again, keeping the old model if the new one fails."""

from __future__ import annotations

from flask import Blueprint, current_app

from microlift.serving import schemas
from microlift.serving.openapi import route
from microlift.serving.problems import Problem

bp = Blueprint("admin", __name__, url_prefix="/admin")


@route(bp, "/reload", "POST", "Reload the models from the registry alias (never from a path or URI in the request)",
       body=schemas.ReloadRequest, response=schemas.ReloadResponse, auth=True, errors=(409,))
def reload(body: schemas.ReloadRequest):
    rt = current_app.extensions["microlift"]
    outcome, detail = rt.reload()
    if outcome == "refused":
        raise Problem(409, "Model refused", detail, kind="model-refused")
    models = rt.bundle.describe() if rt.bundle else {"engagement": "", "conversion": "", "lift": "", "alias": "",
                                                     "version_set": ""}
    return {"outcome": outcome, "detail": detail, "models": models}
