"""The request metrics: made-up methods and paths add no metric series."""

from __future__ import annotations

import uuid

from prometheus_client.parser import text_string_to_metric_families

from serving import metrics
from serving.auth import digest

KEY = "ratelimit-test-key"


def _app(tmp_path, **env):
    from serving.app import create_app

    return create_app({"MICROLIFT_HOME": str(tmp_path / "home"), "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
                       "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
                       "MICROLIFT_API_KEY_HASHES": digest(KEY), **env})


# --- metrics ----------------------------------------------------------------------------------------------------

def _series(client) -> set[tuple[str, str, str]]:
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    return {(s.labels["route"], s.labels["method"], s.labels["status"]) for s in families["microlift_requests"].samples
            if s.name == "microlift_requests_total"}


def test_made_up_methods_and_paths_add_no_metric_series(tmp_path):
    # given a service that has answered requests
    client = _app(tmp_path, MICROLIFT_RATE_LIMIT="0").test_client()
    client.get("/v1/creators")
    client.get("/metrics")  # a scrape is counted once it is answered
    before = _series(client)
    # when clients send made-up methods and paths, and paths under real routes
    for i in range(40):
        client.open("/v1/creators", method=f"QAAB{i}")
        client.open(f"/no-such-page/{uuid.uuid4().hex}", method=f"X{i}")
        client.get(f"/no-such-page/{uuid.uuid4().hex}?q={i}")
        client.get(f"/v1/creators/made-up-{i}")
        client.get(f"/static/made-up-{i}.js")
    # then every label comes from a fixed set: a handful of new series, not one per method or path
    added = _series(client) - before
    assert {method for _, method, _ in _series(client)} <= metrics.METHODS | {"other"}
    assert added <= {("(unmatched)", "other", "405"), ("(unmatched)", "other", "404"), ("(unmatched)", "GET", "404"),
                     ("/v1/creators/<creator_id>", "GET", "404"), ("/static/<path:filename>", "GET", "404")}, added
    # and a status outside HTTP's range gets one label too
    assert metrics.request_labels(None, "get", 1234) == ("(unmatched)", "other", "other")

