"""The API key `microlift serve` makes when none is configured: shown once on a terminal, never written to a log
or under the home (only its digest)."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

from microlift.serving.auth import digest
from tests.deploy_support import alive, answers
from tests.service_support import BIN, free_port, service_env

pytestmark = [pytest.mark.slow, pytest.mark.service]
KEY_PATTERN = re.compile(rb"ml_[A-Za-z0-9_-]{20,}")


def test_without_a_terminal_serve_makes_no_key_and_says_how_to_make_one(tmp_path):
    env = service_env(tmp_path / "home", MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="1")
    with alive(env, tmp_path / "serve.log", cwd=tmp_path):
        refused = requests.post(f"http://{env['MICROLIFT_BIND']}/admin/reload", json={}, timeout=10)
    log = (tmp_path / "serve.log").read_bytes()
    assert refused.status_code == 401
    assert b"run `microlift keygen`" in log and not KEY_PATTERN.search(log)
    assert not (tmp_path / "home" / "api-keys.sha256").exists()


def test_on_a_terminal_serve_shows_a_new_key_there_and_nowhere_else(tmp_path):
    # given `microlift serve` with no key, its stderr a terminal and its stdout a log file
    home = tmp_path / "home"
    env = service_env(home, MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="1")
    terminal, (master, slave) = bytearray(), pty.openpty()

    def read_terminal() -> None:
        with contextlib.suppress(OSError):
            while data := os.read(master, 65536):
                terminal.extend(data)

    with open(tmp_path / "stdout.log", "wb") as out:
        process = subprocess.Popen([str(BIN / "microlift"), "serve"], env=env, cwd=tmp_path, stdout=out,
                                   stderr=slave, start_new_session=True)
    os.close(slave)
    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not (found := KEY_PATTERN.search(bytes(terminal))):
            assert process.poll() is None and time.monotonic() < deadline, bytes(terminal)[-3000:]
            time.sleep(0.2)
        key = found.group().decode()
        base = f"http://{env['MICROLIFT_BIND']}"
        while not answers(base + "/healthz"):
            assert time.monotonic() < deadline, bytes(terminal)[-3000:]
            time.sleep(0.2)
        # when the key is used
        answer = requests.post(base + "/admin/reload", json={}, headers={"X-API-Key": key}, timeout=30)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        os.close(master)
    # then it is accepted, its digest is stored, and it is written nowhere: not in the log, not under the home
    assert answer.status_code not in (401, 403), answer.text
    assert digest(key) in (home / "api-keys.sha256").read_text()
    assert key.encode() not in (tmp_path / "stdout.log").read_bytes()
    written = [path for path in home.rglob("*") if path.is_file() and key.encode() in path.read_bytes()]
    assert not written
