"""`microlift serve` on a port another server holds: one line naming the address and the variable that moves it,
a non-zero exit, no traceback and nothing made; and `microlift keygen`'s stdout, the key alone."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest

from microlift.serving.auth import digest
from tests.service_support import BIN, TRACEBACK, service_env

pytestmark = pytest.mark.slow  # each starts the `microlift` command: a few seconds of imports


def test_serve_on_a_port_in_use_says_so_in_one_line_and_exits_before_making_anything(tmp_path):
    # given another server listening on the port MICROLIFT_BIND names
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        env = service_env(tmp_path / "home", MICROLIFT_BIND=f"127.0.0.1:{port}", MICROLIFT_WORKERS="1")
        # when `make run` would start
        done = subprocess.run([str(BIN / "microlift"), "serve", "--bootstrap", str(tmp_path / "data")], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    # then one line names the address and the variable, and nothing was simulated, trained or started
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(
        rf"error: 127\.0\.0\.1:{port} is in use \(another microlift\?\); set MICROLIFT_BIND=127\.0\.0\.1:\d+ to use "
        r"another port", lines[0]), done.stderr
    assert not TRACEBACK.search(done.stdout + done.stderr) and "Connection in use" not in done.stdout + done.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "home" / "mlflow.db").exists()


def test_keygen_prints_the_key_alone_on_stdout_so_that_a_shell_can_export_it(tmp_path):
    env = service_env(tmp_path / "home")
    done = subprocess.run([str(BIN / "microlift"), "keygen"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert re.fullmatch(r"ml_[A-Za-z0-9_-]{20,}", key), done.stdout
    assert "shown once" in done.stderr and key not in done.stderr
    assert (tmp_path / "home" / "api-keys.sha256").read_text().split() == [digest(key)]
