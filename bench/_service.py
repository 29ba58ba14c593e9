"""What the service benchmarks share: a prepared home (models registered and promoted through the command line),
a live `microlift serve` or `mlflow models serve`, a timed HTTP client, and the statistics they print.

A prepared home is cached under MICROLIFT_BENCH_CACHE when it is set (the smoke test shares one across scripts),
otherwise under a temporary folder removed at exit. Each server runs in a folder of its own (its own
MICROLIFT_HOME, catalog and metrics) and reads the models from the prepared home's MLflow store, so two
benchmarks can run side by side on one prepared home.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the virtualenv's bin: `microlift`, `mlflow`
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
NO_KEY = "0" * 64  # a digest no key hashes to: the write routes stay closed, nothing is generated


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message carries the command's output."""


def scratch(prefix: str) -> Path:
    """A temporary folder removed when the benchmark exits."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


# --- the prepared home ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Home:
    """A MICROLIFT_HOME with a simulated dataset in `data` and a trained, registered, promoted version set."""

    path: Path

    @property
    def data(self) -> Path:
        return self.path / "data"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.path / 'mlflow.db'}"

    def env(self, run_dir: Path, **extra: str) -> dict[str, str]:
        """The environment of a microlift whose own state lives in `run_dir`, reading this home's models."""
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
        env.update({"MICROLIFT_HOME": str(run_dir), "MLFLOW_TRACKING_URI": self.tracking_uri,
                    "MLFLOW_REGISTRY_URI": self.tracking_uri, "MLFLOW_DISABLE_TELEMETRY": "true",
                    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "OMP_WAIT_POLICY": "PASSIVE",
                    "MICROLIFT_RATE_LIMIT": "0", "MICROLIFT_API_KEY_HASHES": NO_KEY, **extra})  # extra wins
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        return env


def microlift(env: dict[str, str], *argv: str | Path, timeout: float = 3600) -> str:
    """Run one `microlift` command; its stdout, or a BenchError with its output."""
    done = subprocess.run([str(BIN / "microlift"), *map(str, argv)], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise BenchError(f"microlift {' '.join(map(str, argv))} exited with {done.returncode}:\n"
                         f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def prepared_home(creators: int, campaigns: int, seed: int = 1) -> Home:
    """Simulate, train, register and promote through the CLI, once per (creators, campaigns, seed) and cache."""
    cache = os.environ.get("MICROLIFT_BENCH_CACHE")
    root = Path(cache) if cache else scratch("microlift-bench-")
    root.mkdir(parents=True, exist_ok=True)
    home = Home(root / f"home-{creators}x{campaigns}-seed{seed}")
    ready = home.path / "ready"
    with open(root / f".{home.path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another benchmark preparing the same home: wait for it
        if not ready.exists():
            shutil.rmtree(home.path, ignore_errors=True)
            home.path.mkdir(parents=True)
            env = home.env(home.path)
            microlift(env, "simulate", "--creators", creators, "--campaigns", campaigns, "--seed", seed,
                      "--out", home.data, "--quiet")
            microlift(env, "train", "--data", home.data, "--register", "--quiet")
            microlift(env, "promote", "--data", home.data, "--version", "latest", "--force")
            ready.touch()
    return home


def load_models(home: Home):
    """The champion version set, loaded in this process exactly as a service worker loads it."""
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    from microlift.models.modelstore import load_alias
    from microlift.models.settings import Settings

    return load_alias(Settings.from_env(home.env(home.path))).models


# --- creators as the API takes them -----------------------------------------------------------------------------

def creator_records(frame: pd.DataFrame) -> list[dict]:
    """Creators (contract columns plus history) as JSON objects of the API: whole numbers as ints, no NaN."""
    from microlift.models.contract import TABLES
    from microlift.serving.catalog import COLUMNS

    kinds = {c.name: c.kind for c in TABLES["creators"].columns}
    columns = [c for c in COLUMNS if c in frame.columns]
    records = []
    for row in frame[columns].itertuples(index=False):
        record = {}
        for name, value in zip(columns, row, strict=True):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            kind = kinds.get(name, "float")
            record[name] = int(value) if kind == "int" else float(value) if kind == "float" or name not in kinds \
                else str(value)
        records.append(record)
    return records


def as_served(records: list[dict]) -> pd.DataFrame:
    """Inline candidates as the service turns them into the engine's frame (serving/views/plan.py)."""
    from pydantic import TypeAdapter

    from microlift.serving import schemas
    from microlift.serving.views.plan import candidate_frame

    return candidate_frame(TypeAdapter(list[schemas.Candidate]).validate_python(records))


# --- servers ------------------------------------------------------------------------------------------------

@dataclass
class Server:
    base: str
    process: subprocess.Popen
    start_seconds: float  # process start to the first healthy answer
    log: Path

    def worker_pids(self) -> list[int]:
        """Direct children of the server's main process (gunicorn's or uvicorn's workers)."""
        pids = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            pids += [int(p) for p in task.read_text().split()]
        return pids


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], health: str, log: Path, timeout: float = 600):
    """A server in its own process group until `health` answers 200; the whole group stopped on the way out."""
    with open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base = health.rsplit("/", 1)[0]
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise BenchError(f"{argv[0]} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(health, timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"{health} did not answer 200 within {timeout:.0f} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.05)
        yield Server(base, process, time.perf_counter() - started, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def microlift_serve(home: Home, run_dir: Path, workers: int, **extra: str):
    """`microlift serve` with `workers` gunicorn workers, its catalog in `run_dir` unless DATABASE_URL is given."""
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = home.env(run_dir, MICROLIFT_BIND=f"127.0.0.1:{port}", MICROLIFT_WORKERS=str(workers), **extra)
    return running([str(BIN / "microlift"), "serve"], env, f"http://127.0.0.1:{port}/readyz",
                   run_dir / "microlift-serve.log")


def mlflow_serve(home: Home, run_dir: Path, kind: str, workers: int):
    """`mlflow models serve` of the registered `kind` model (version 1), local environment."""
    port = free_port()
    argv = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/microlift-{kind}/1", "--env-manager", "local",
            "-h", "127.0.0.1", "-p", str(port), "--workers", str(workers)]
    return running(argv, home.env(run_dir), f"http://127.0.0.1:{port}/ping", run_dir / f"mlflow-{kind}.log")


def revision_tree(rev: str) -> tuple[Path, str]:
    """The repository's tree at git revision `rev`, extracted (`git archive`, nothing checked out) into a scratch
    folder, and the revision's short hash. With PYTHONPATH set to the folder, `import microlift` runs that code."""
    described = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", f"{rev}^{{commit}}"],
                               capture_output=True, text=True)
    if described.returncode != 0:
        raise BenchError(f"{rev!r} is not a commit of {ROOT}: {described.stderr.strip()}")
    commit = described.stdout.strip()
    tree = scratch(f"microlift-bench-{commit}-")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True)
    if archive.returncode != 0:
        raise BenchError(f"git archive {commit} exited with {archive.returncode}: {archive.stderr.decode()[-2000:]}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    # the package's subpackages are symlinks to the top-level folders: they must survive the archive
    for part in ("models", "serving", "training"):
        if not (tree / "microlift" / part / "__init__.py").is_file():
            raise BenchError(f"{commit}'s tree has no microlift/{part} package (expected a symlink to ../{part})")
    return tree, commit


def imported_from(env: dict[str, str], module: str, cwd: Path) -> Path:
    """The file `module` is imported from by this virtualenv's Python with `env` (the code a server with `env` runs)."""
    done = subprocess.run([sys.executable, "-c", f"import {module} as m; print(m.__file__)"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise BenchError(f"importing {module} failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def process_env(pid: int) -> dict[str, str]:
    """A running process's environment (/proc/PID/environ)."""
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode(errors="replace").split("=", 1) for p in pairs if b"=" in p)


# --- timing -----------------------------------------------------------------------------------------------------

def post(session: requests.Session, url: str, body: bytes) -> float:
    """Seconds from sending a JSON body to having read the whole answer; a BenchError unless it is 200."""
    started = time.perf_counter()
    response = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=600)
    response.content  # noqa: B018 - the body is part of the answer
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchError(f"POST {url} answered {response.status_code}: {response.text[:1000]}")
    return seconds


def post_fresh(url: str, body: bytes) -> float:
    """`post` on a connection of its own (opened inside the timing, as a client without keep-alive sees it).

    Over keep-alive, uvicorn (which `mlflow models serve` runs) answers small requests ~40 ms late: the delayed-ACK
    wait of TCP, not work. A new connection per request costs both servers the same loopback handshake instead.
    """
    with requests.Session() as session:
        return post(session, url, body)


def as_json(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def p50_p95(seconds: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    values = np.asarray(seconds) * 1000
    return float(np.median(values)), float(np.percentile(values, 95))


def timed(fn, repeats: int, warmup: int = 1) -> list[float]:
    """Seconds of each of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return runs


def print_table(rows: list[dict]) -> None:
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
