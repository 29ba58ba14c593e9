"""The service under faults: tampered models under the alias, a worker killed during load, training killed mid-run.

Figures of the load test are printed (run with -s to see them)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from mlflow import MlflowClient

from microlift.serving.auth import digest
from tests.service_support import BIN, OpenAPI, free_port, prepare_home, service_env, serving, started

pytestmark = [pytest.mark.slow, pytest.mark.service]
KEY = "resilience-key"
BRIEF = {"niche": "home", "product_price": 21, "baseline_units_per_month": 542, "marketplace": "amazon"}


class Live:
    def __init__(self, base: str, env: dict[str, str], data: Path, first: dict[str, str], openapi: OpenAPI,
                 log: Path):
        self.base, self.env, self.data, self.first, self.openapi, self.log = base, env, data, first, openapi, log

    def client(self) -> MlflowClient:
        uri = f"sqlite:///{Path(self.env['MICROLIFT_HOME']) / 'mlflow.db'}"
        return MlflowClient(uri, uri)

    def reload(self) -> requests.Response:
        return requests.post(self.base + "/admin/reload", json={}, headers={"X-API-Key": KEY}, timeout=60)

    def rank(self) -> requests.Response:
        return requests.post(self.base + "/v1/rank", json={"brief": BRIEF, "filters": {"tiers": ["micro"]},
                                                           "top_k": 10}, timeout=60)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("resilience")
    env = service_env(root / "home", MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="2",
                      MICROLIFT_API_KEY_HASHES=digest(KEY), MICROLIFT_RATE_LIMIT="0")
    data = root / "data"
    prepare_home(env, data, 1500, 70, 8)
    with serving(env, root / "serve.log", cwd=root) as base:
        live = Live(base, env, data, {}, OpenAPI(requests.get(base + "/openapi.json", timeout=10).json()),
                    root / "serve.log")
        live.first = champion(live)
        yield live


def champion(live: Live) -> dict[str, str]:
    """The versions the `champion` alias points at, read from the registry."""
    client = live.client()
    return {kind: client.get_model_version_by_alias(f"microlift-{kind}", "champion").version
            for kind in ("engagement", "conversion", "lift")}


def served_versions(live: Live) -> dict[str, str]:
    return {k: v for k, v in requests.get(live.base + "/readyz", timeout=10).json()["models"].items()
            if k in ("engagement", "conversion", "lift")}


def reload_count(live: Live, outcome: str) -> float:
    text = requests.get(live.base + "/metrics", timeout=10).text
    line = next((line for line in text.splitlines()
                 if line.startswith(f'microlift_model_reloads_total{{outcome="{outcome}"}}')), None)
    return float(line.split()[-1]) if line else 0.0


def test_gunicorn_opens_no_control_socket_shared_with_other_services(live):
    # gunicorn >= 25.1 otherwise listens on one socket per user, which every service on the host would share
    assert "Control socket listening" not in live.log.read_text()
    assert "Booting worker" in live.log.read_text()


# --- tampered models ---------------------------------------------------------------------------------------------

def _flavor(folder: Path) -> None:
    _edit(folder, lambda m: m["flavors"].update({"sklearn": {"pickled_model": "model.pkl"}}))


def _code_directory(folder: Path) -> None:
    (folder / "code").mkdir(exist_ok=True)
    (folder / "code" / "payload.py").write_text("import os\nos.system('touch /tmp/microlift-pwned')\n")


def _no_signature(folder: Path) -> None:
    _edit(folder, lambda m: m.pop("signature", None))


def _truncated_booster(folder: Path) -> None:
    booster = next(folder.rglob("booster*.txt"))
    text = booster.read_text()
    booster.write_text(text[: len(text) // 2])


def _spec_not_json(folder: Path) -> None:
    next(folder.rglob("spec.json")).write_text('{"kind": "engagement", ')


def _poisoned_leaf(folder: Path) -> None:
    """One leaf of the last tree set to 1e300: no reference row need reach it."""
    booster = next(folder.rglob("booster*.txt"))
    lines = booster.read_text().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.startswith("leaf_value="))
    values = lines[last][len("leaf_value="):].split()
    values[-1] = "1e300"
    lines[last] = "leaf_value=" + " ".join(values) + "\n"
    booster.write_text("".join(lines))


def _edit(folder: Path, change) -> None:
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    change(meta)
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))


def register_tampered(live: Live, tmp: Path, tamper) -> str:
    """A copy of the champion's engagement model, altered, registered as a new version; the alias moved to it."""
    client = live.client()
    name = "microlift-engagement"
    source = client.get_model_version(name, live.first["engagement"]).source
    location = client.get_logged_model(source.removeprefix("models:/")).artifact_location
    folder = tmp / "tampered"
    shutil.copytree(location.removeprefix("file://"), folder)
    tamper(folder)
    experiment = client.get_experiment_by_name("microlift").experiment_id
    run = client.create_run(experiment, run_name="tampered")
    client.log_artifacts(run.info.run_id, str(folder), "model")
    client.set_terminated(run.info.run_id)
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id,
                                          tags={"version_set": run.info.run_id}).version
    client.set_registered_model_alias(name, "champion", version)
    return version


@pytest.mark.parametrize("tamper", [_flavor, _code_directory, _no_signature, _truncated_booster, _spec_not_json,
                                    _poisoned_leaf],
                         ids=["unexpected-flavor", "code-directory", "no-signature", "truncated-booster",
                              "spec-not-json", "poisoned-leaf"])
def test_an_alias_moved_to_a_tampered_model_is_refused_and_the_old_model_keeps_serving(live, tmp_path, tamper):
    before = served_versions(live)
    refused_before = reload_count(live, "refused")
    version = register_tampered(live, tmp_path, tamper)
    try:
        answer = live.reload()
        assert answer.status_code == 409, answer.text
        live.openapi.check(answer)
        assert "refused" not in answer.json()["detail"] or answer.json()["type"].endswith("model-refused")
        ready = requests.get(live.base + "/readyz", timeout=10)
        assert ready.status_code == 200 and served_versions(live) == before
        last = ready.json()["last_reload"]
        assert last["outcome"] == "refused" and "engagement" in last["detail"]
        # plain words on the public route: no temporary folder, no file path
        assert "/tmp" not in last["detail"] and "microlift-model-" not in last["detail"], last["detail"]
        assert "/tmp" not in answer.json()["detail"], answer.json()["detail"]
        ranked = live.rank()
        assert ranked.status_code == 200 and ranked.json()["models"]["engagement"] == before["engagement"]
        assert reload_count(live, "refused") >= refused_before + 1
        assert not Path("/tmp/microlift-pwned").exists()
    finally:
        live.client().set_registered_model_alias("microlift-engagement", "champion", live.first["engagement"])
    assert int(version) > int(live.first["engagement"])


def test_a_service_whose_champion_is_refused_starts_says_why_and_serves_after_a_good_reload(live, tmp_path):
    # given: the alias moved to a version whose spec is not JSON (a worker used to fail to boot on it)
    version = register_tampered(live, tmp_path, _spec_not_json)
    home = live.env["MICROLIFT_HOME"]
    env = service_env(tmp_path / "home", MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="2",
                      MICROLIFT_API_KEY_HASHES=digest(KEY), MICROLIFT_RATE_LIMIT="0",
                      MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow.db", MLFLOW_REGISTRY_URI=f"sqlite:///{home}/mlflow.db",
                      DATABASE_URL=f"sqlite:///{home}/catalog.db")
    base = f"http://{env['MICROLIFT_BIND']}"
    try:
        # when: a second service starts on the same registry and catalog
        with started(env, tmp_path / "second.log", tmp_path, "/healthz"):
            # then: alive, not ready, and saying why in plain words, without claiming a model serves
            ready = requests.get(base + "/readyz", timeout=10)
            assert ready.status_code == 503 and ready.json()["models"] is None
            last = ready.json()["last_reload"]
            assert last["outcome"] == "refused" and "spec is not valid JSON" in last["detail"], last
            assert "/tmp" not in last["detail"] and "still serving" not in last["detail"]
            assert requests.post(base + "/v1/rank", json={"brief": BRIEF}, timeout=30).status_code == 503
            assert "Worker failed to boot" not in (tmp_path / "second.log").read_text()
            # when: the alias points at a good version again and the service reloads
            live.client().set_registered_model_alias("microlift-engagement", "champion", live.first["engagement"])
            answer = requests.post(base + "/admin/reload", json={}, headers={"X-API-Key": KEY}, timeout=120)
            # then: it serves
            assert answer.status_code == 200 and answer.json()["outcome"] == "reloaded", answer.text
            # each worker follows the reload on its next request: until both have, one may still answer 503
            deadline = time.monotonic() + 30
            while True:
                ranked = requests.post(base + "/v1/rank", json={"brief": BRIEF, "top_k": 3}, timeout=60)
                ready = [requests.get(base + "/readyz", timeout=10).status_code for _ in range(4)]
                if ranked.status_code == 200 and ready == [200] * 4:
                    break
                assert time.monotonic() < deadline, "the workers did not follow the reload"
                time.sleep(0.3)
            assert ranked.status_code == 200 and ranked.json()["models"]["engagement"] == str(live.first["engagement"])
    finally:
        live.client().set_registered_model_alias("microlift-engagement", "champion", live.first["engagement"])
    assert int(version) > int(live.first["engagement"])


# --- a worker killed under load ------------------------------------------------------------------------------------

def gunicorn_workers(bind: str) -> tuple[int, list[int]]:
    """(master pid, worker pids) of the gunicorn whose environment has this MICROLIFT_BIND."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if f"MICROLIFT_BIND={bind}".encode() in environ and b"gunicorn" in cmdline:
            found[int(entry.name)] = ppid
    masters = [pid for pid, ppid in found.items() if ppid not in found]
    assert len(masters) == 1, found
    return masters[0], [pid for pid, ppid in found.items() if ppid == masters[0]]


def test_killing_a_worker_under_load_loses_under_one_percent_of_requests_and_no_catalog_rows(live):
    seconds, rate, clients = 60, 12.0, 4
    results: list[tuple[float, int]] = []  # (latency s, status or 0 for a connection failure)
    imported: list[str] = []
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def client_loop(index: int) -> None:
        session = requests.Session()
        period = clients / rate
        next_at = time.monotonic() + index * period / clients
        sent = 0
        while next_at < stop:
            time.sleep(max(0.0, next_at - time.monotonic()))
            sent += 1
            started = time.perf_counter()
            try:
                if index == 0 and sent % 10 == 0:  # every ~3 s: import a few new creators
                    rows = [{"creator_id": f"load-{sent}-{i}", "platform": "tiktok", "niche": "pets",
                             "followers": 20_000 + i} for i in range(20)]
                    status = session.post(live.base + "/v1/creators/import", json=rows,
                                          headers={"X-API-Key": KEY}, timeout=60).status_code
                    if status == 200:
                        with lock:
                            imported.extend(r["creator_id"] for r in rows)
                elif sent % 2:
                    status = session.post(live.base + "/v1/rank", json={"brief": BRIEF, "top_k": 20,
                                          "filters": {"platforms": ["instagram"]}}, timeout=60).status_code
                else:
                    status = session.get(live.base + "/v1/creators", params={"tier": "micro", "limit": 50},
                                         timeout=60).status_code
            except requests.RequestException:
                status = 0
            with lock:
                results.append((time.perf_counter() - started, status))
            next_at += period

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds / 3)
    master, workers = gunicorn_workers(live.env["MICROLIFT_BIND"])
    os.kill(workers[0], signal.SIGKILL)
    for t in threads:
        t.join()

    latencies = np.array([r[0] for r in results])
    failed = sum(1 for _, status in results if status == 0 or status >= 500)
    error_rate = failed / len(results)
    print(f"\nload: {len(results)} requests in {seconds} s at {rate:g}/s from {clients} clients, one of "
          f"{len(workers)} workers killed at {seconds / 3:.0f} s; failed {failed} ({error_rate:.2%}); "
          f"p50 {np.percentile(latencies, 50) * 1000:.0f} ms, p99 {np.percentile(latencies, 99) * 1000:.0f} ms; "
          f"{len(imported)} creators imported")
    assert len(results) >= 0.9 * seconds * rate
    assert error_rate < 0.01
    assert imported, "no import succeeded during the load"
    for creator_id in imported[::7] + imported[-1:]:
        assert requests.get(f"{live.base}/v1/creators/{creator_id}", timeout=10).status_code == 200
    listed = requests.get(live.base + "/v1/creators", params={"platform": "tiktok", "niche": "pets",
                                                               "limit": 1000}, timeout=10).json()
    assert set(imported) <= {c["creator_id"] for c in listed["creators"]} or listed["total"] > 1000
    _, after = gunicorn_workers(live.env["MICROLIFT_BIND"])
    assert len(after) == len(workers) and workers[0] not in after  # gunicorn replaced the killed worker


# --- training killed mid-run ---------------------------------------------------------------------------------------

def test_killing_training_mid_run_leaves_the_champion_and_the_served_model_unchanged(live):
    before = champion(live)
    served = served_versions(live)
    process = subprocess.Popen([str(BIN / "microlift"), "train", "--data", str(live.data), "--register"],
                               env=live.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    seen = []
    for line in process.stdout:  # kill it once it is training the second model
        seen.append(line)
        if "training the conversion model" in line:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen)[-2000:]
    assert champion(live) == before
    assert served_versions(live) == served
    again = live.reload()
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    assert live.rank().status_code == 200
