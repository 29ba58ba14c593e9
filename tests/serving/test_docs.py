"""The API reference page and the Swagger UI files it loads, in process, on a service without models (none are
needed to read the document)."""

from __future__ import annotations

import re
from importlib.metadata import version
from importlib.resources import files

import pytest

from microlift.serving.app import create_app

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)
ADDRESS = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    app = create_app({"MICROLIFT_HOME": str(root / "home"), "DATABASE_URL": f"sqlite:///{root / 'catalog.db'}",
                      "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"})
    return app.test_client()


def test_the_docs_page_loads_swagger_ui_from_the_service_under_its_policy(client):
    # when the page is asked for
    answer = client.get("/docs")
    # then it is HTML under the service's policy: scripts from the service only, no framing
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy and "http" not in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    html = answer.get_data(as_text=True)
    # and every script is a file of the service, none inline
    scripts = SCRIPT.findall(html)
    assert scripts and all("src=" in attributes and not body.strip() for attributes, body in scripts)
    # and everything it loads is a path on this service: Swagger UI, its init script, the document
    addresses = set(ADDRESS.findall(html)) - {"data:,"}
    assert addresses == {"/vendor/swagger-ui/swagger-ui.css", "/vendor/swagger-ui/swagger-ui-bundle.js",
                         "/static/docs.js", "/openapi.json"}
    assert 'data-document="/openapi.json"' in html


@pytest.mark.parametrize(("name", "media"), [("swagger-ui-bundle.js", "text/javascript"),
                                              ("swagger-ui.css", "text/css")])
def test_swagger_ui_is_served_from_the_installed_package_with_its_type_and_a_day_of_caching(client, name, media):
    # when a file of Swagger UI is asked for
    answer = client.get(f"/vendor/swagger-ui/{name}")
    # then it is the installed package's own file, typed, cacheable for a day, never sniffed
    assert answer.status_code == 200
    assert answer.data == files("flask_swagger_ui").joinpath("dist", name).read_bytes()
    assert answer.mimetype == media
    assert answer.headers["Cache-Control"] == "public, max-age=86400"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_installed_swagger_ui_draws_openapi_3_1():
    # Swagger UI reads OpenAPI 3.1 documents from its version 5 on
    shipped = files("flask_swagger_ui").joinpath("dist", "VERSION").read_text().strip().lstrip("v")
    assert int(shipped.split(".")[0]) >= 5 and version("flask-swagger-ui").startswith("5.")


@pytest.mark.parametrize("name", ["index.css", "swagger-ui.js.map", "VERSION", "..%2F__init__.py", "nothing.js"])
def test_only_the_files_the_page_needs_are_served(client, name):
    answer = client.get(f"/vendor/swagger-ui/{name}")
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"


def test_the_init_script_is_a_static_file_and_the_vendor_files_are_no_api_operations(client):
    # when the page's own script and the document are asked for
    script = client.get("/static/docs.js")
    paths = client.get("/openapi.json").get_json()["paths"]
    # then the script is JavaScript that starts Swagger UI on the document the page names
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"SwaggerUIBundle(" in script.data
    # and the reference is an operation of the document, while its files are not
    assert "/docs" in paths and not any(path.startswith("/vendor/") for path in paths)


def test_without_scripts_the_page_still_lists_every_operation(client):
    # given the operations of the document
    paths = client.get("/openapi.json").get_json()["paths"]
    operations = [f"{method.upper()} {path}" for path, methods in paths.items() for method in methods]
    # when the page is read without running its scripts
    fallback = client.get("/docs").get_data(as_text=True).split("<noscript>")[1].split("</noscript>")[0]
    # then each operation is named there, and the document is linked
    assert len(operations) > 5 and all(f"<code>{name}</code>" in fallback for name in operations)
    assert 'href="/openapi.json"' in fallback
