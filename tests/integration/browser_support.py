"""What the planner page's browser tests share: the trained home they serve from and waiting for a plan to be
drawn (their Chromium fixtures are in conftest.py). Each module brings its own `base` (its service) and `page`
(what it tolerates)."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.service_support import prepare_home, service_env

CHROMIUM = os.environ.get("MICROLIFT_CHROMIUM", "/usr/bin/chromium")


def trained(tmp_path_factory) -> Path:
    """A small simulated catalog imported and models trained and promoted: made once per run, shared by the xdist
    workers and the browser test modules (training twice would cost the other worker its core)."""
    here = tmp_path_factory.getbasetemp()
    shared = here.parent if os.environ.get("PYTEST_XDIST_WORKER") else here
    root = shared / "web-trained"
    with open(shared / "web-trained.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "done").exists():
            shutil.rmtree(root, ignore_errors=True)
            env, data = service_env(root), root / "data"
            prepare_home(env, data, 2000, 80, 3)
            (root / "done").touch()
    return root


def planned(page: Page) -> None:
    """Wait until the page has drawn a plan."""
    expect(page.locator("#results")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#curve-chart .main-svg").first).to_be_attached()
