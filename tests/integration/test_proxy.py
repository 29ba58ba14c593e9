"""The example reverse proxy of deploy/nginx.conf, run in front of a real `microlift serve`."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from microlift.serving.auth import digest
from tests.deploy_support import alive, answers, raw_request
from tests.service_support import free_port, service_env, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.service]
REPO = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")  # Debian builds them in under /var/lib/nginx
KEY = "proxy-key"


@contextlib.contextmanager
def nginx(prefix: Path, upstream_port: int):
    """deploy/nginx.conf, its two addresses changed, in a foreground nginx whose files all live under `prefix`."""
    site = (REPO / "deploy" / "nginx.conf").read_text()
    port = free_port()
    for old, new in (("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
                     ("listen 8080;", f"listen 127.0.0.1:{port};")):
        assert site.count(old) == 1, f"deploy/nginx.conf no longer has exactly one '{old}'"
        site = site.replace(old, new)
    (prefix / "site.conf").write_text(site)
    built = subprocess.run([NGINX, "-V"], capture_output=True, text=True).stderr
    temp = "".join(f"    {name}_temp_path {prefix / name};\n" for name in TEMP_PATHS
                   if f"--http-{name.replace('_', '-')}-temp-path" in built)
    (prefix / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")  # workers must reach the temp folders under pytest's tmp
        + f"daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
        f"events {{ worker_connections 512; }}\nhttp {{\n    access_log {prefix / 'access.log'};\n{temp}"
        f"    include {prefix / 'site.conf'};\n}}\n")
    process = subprocess.Popen([NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c",
                                str(prefix / "nginx.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not answers(f"http://127.0.0.1:{port}/healthz"):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log = prefix / "error.log"
                pytest.fail(f"nginx did not start: {process.communicate()[1].decode()}"
                            f"{log.read_text() if log.exists() else ''}")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_behind_the_example_nginx_health_answers_while_16_clients_trickle_request_bodies(tmp_path):
    if NGINX is None:
        unavailable("nginx is not installed (Debian: apt-get install nginx-light, as `make test` does with root)")
    upstream = free_port()
    env = service_env(tmp_path / "home", MICROLIFT_BIND=f"127.0.0.1:{upstream}", MICROLIFT_WORKERS="2",
                      MICROLIFT_THREADS="4", MICROLIFT_API_KEY_HASHES=digest(KEY))
    with alive(env, tmp_path / "serve.log", cwd=tmp_path), nginx(tmp_path, upstream) as port:
        # given 16 clients trickling request bodies through nginx, a byte every half second
        stop = time.monotonic() + 8
        head = f"POST /v1/creators/import HTTP/1.1\nHost: x\nX-API-Key: {KEY}\nContent-Type: text/csv\n" \
               "Content-Length: 100000\n"
        slow = [raw_request(port, head, b"creator_id,") for _ in range(16)]

        def trickle_all() -> None:
            while time.monotonic() < stop:
                for sock in slow:
                    with contextlib.suppress(OSError):
                        sock.sendall(b" ")
                time.sleep(0.5)

        trickling = threading.Thread(target=trickle_all)
        trickling.start()
        time.sleep(1)
        # when health is asked through nginx while they trickle
        answers = []
        while time.monotonic() < stop - 1:
            answers.append(requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code)
            time.sleep(0.5)
        trickling.join()
        for sock in slow:
            sock.close()
        # then it answers every time, and a whole request passes through to the service and back
        assert answers and set(answers) == {200}, answers
        refused = requests.post(f"http://127.0.0.1:{port}/admin/reload", json={}, timeout=10)
        assert refused.status_code == 401 and refused.headers["Content-Type"] == "application/problem+json"
