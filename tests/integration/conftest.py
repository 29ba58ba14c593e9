"""Fixtures of the browser tests: the Chromium to drive and the browser, per module, before its `base` service."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.integration.browser_support import CHROMIUM
from tests.service_support import headless_chromium, unavailable


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium to drive, asked for before the server starts: without one the tests skip at once."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        unavailable(f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install -y chromium`, as "
                    "`make test` does with root) or point MICROLIFT_CHROMIUM at one")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium, base):
    """Chromium, closed before the server stops (gunicorn would wait out the browser's open connections)."""
    with headless_chromium(chromium) as launched:
        yield launched
