"""Forecast under load: `POST /v1/forecast` with one client and with 8 concurrent clients, against an earlier commit.

Baseline: the planning service's forecast in process (`models.planning.forecast`: scoring the pool with both models,
the roster, the draws and the curve) on the same pool, with the models the service loads, measured in the same run,
alternating with the single client's requests so both see the same background load. The service adds parsing the
inline creators, validating them and the JSON answer.
With `--baseline REV`, a second `microlift serve` runs REV's code (its tree extracted by `git archive`, imported
through PYTHONPATH by the same virtualenv) on the same prepared models, with the same workers and threads and a
catalog of its own; the 8 clients load the two servers in alternating rounds (current, REV, current, REV, ...), and
each server's throughput and percentiles are over all its rounds. Target: at least 2x REV's throughput and
p95 <= 300 ms with 8 clients.
Pool: 200 creators inline (`--candidates`); 1,000 draws (`--draws`); the default budget curve (the budget and 8 more,
0.25x to 4x); 2 gunicorn workers x 4 threads (MICROLIFT_THREADS).

    python bench/forecast_load.py                     # 60 requests alone, 3 rounds of 8 clients x 12 requests
    python bench/forecast_load.py --baseline 0398a49  # and the same rounds against 0398a49's code, alternating
    python bench/forecast_load.py --candidates 1000   # a larger inline pool
    python bench/forecast_load.py --tiny              # seconds, for the smoke test (no baseline unless given)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time

import requests
from _service import (
    BenchError,
    as_json,
    as_served,
    creator_records,
    imported_from,
    load_average,
    load_models,
    microlift_serve,
    p50_p95,
    post,
    prepared_home,
    print_table,
    process_env,
    revision_tree,
    scratch,
)

from microlift.models import planning
from microlift.models.brief import Brief
from microlift.models.datasets import load_candidates
from microlift.models.settings import process_environment

BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 600, "compensation": "gifting",
         "marketplace": "amazon", "weeks": 8}
BUDGET = 10_000.0
CLIENTS = 8
WORKERS = 2


def concurrent(url: str, body: bytes, clients: int, each: int) -> tuple[list[float], float]:
    """Every request's seconds, and the wall seconds for all of them, with `clients` threads sending `each`."""
    times: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client():
        try:
            with requests.Session() as session:
                for _ in range(each):
                    seconds = post(session, url, body)
                    with lock:
                        times.append(seconds)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return times, time.perf_counter() - started


def served_code(server, env: dict[str, str]) -> str:
    """Where the server's `microlift` comes from: its workers' PYTHONPATH and the engine module that path imports."""
    paths = {process_env(pid).get("PYTHONPATH", "") for pid in server.worker_pids()}
    if len(paths) != 1 or paths != {env.get("PYTHONPATH", "")}:
        raise BenchError(f"the workers of {server.base} run with PYTHONPATH {paths}, not {env.get('PYTHONPATH')!r}")
    return str(imported_from(env, "microlift.models.planning", server.log.parent))


def started_line(server) -> str:
    """`N worker(s) x M thread(s)` as `microlift serve` logged it."""
    for line in server.log.read_text().splitlines():
        if line.startswith("starting gunicorn on"):
            return line.split(": ", 1)[1].split(",")[0]
    return "workers and threads not logged"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also load a server running this git revision's code")
    parser.add_argument("--candidates", type=int, default=200, help="inline creators per request (default 200)")
    parser.add_argument("--draws", type=int, default=None, help="forecast draws (default 1000; tiny: 100)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per client and round with 8 clients (default 12; tiny: 1)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of 8 clients per server (default 3; tiny: 1)")
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    args = parser.parse_args()
    process_environment()  # as the service and the command line run: BLAS on one thread
    alone, warmup = (3, 1) if args.tiny else (60, 3)
    each = args.requests or (1 if args.tiny else 12)
    rounds = args.rounds or (1 if args.tiny else 3)
    draws = args.draws or (100 if args.tiny else 1_000)
    home = prepared_home(*((1_500, 40) if args.tiny else (8_000, 200)))
    records = creator_records(load_candidates(home.data).sample(args.candidates, random_state=0))
    body = as_json({"brief": BRIEF, "budget": BUDGET, "candidates": records, "draws": draws})
    models = load_models(home)
    request = planning.ForecastRequest(Brief.from_mapping(BRIEF), BUDGET, draws=draws)
    pool = as_served(records)
    tree, commit = revision_tree(args.baseline) if args.baseline else (None, None)

    def in_process():
        planning.forecast(request, pool, models, {})

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(microlift_serve(home, scratch("microlift-bench-forecast-"), WORKERS))
        servers = {"current": server}
        code = {"current": served_code(server, home.env(server.log.parent))}
        if tree is not None:
            extra = {"PYTHONPATH": str(tree)}
            old = stack.enter_context(microlift_serve(home, scratch(f"microlift-bench-forecast-{commit}-"), WORKERS,
                                                      **extra))
            servers[commit] = old
            code[commit] = served_code(old, home.env(old.log.parent, **extra))
            if not code[commit].startswith(str(tree) + os.sep):
                raise BenchError(f"the server of {commit} imports {code[commit]}, not its tree {tree}")
        session = stack.enter_context(requests.Session())
        url = server.base + "/v1/forecast"
        for _ in range(warmup):
            in_process()
            for each_server in servers.values():
                post(session, each_server.base + "/v1/forecast", body)
        baseline, single = [], []
        for _ in range(alone):
            started = time.perf_counter()
            in_process()
            baseline.append(time.perf_counter() - started)
            single.append(post(session, url, body))
        for each_server in servers.values():  # every worker thread answers once before the timed rounds
            concurrent(each_server.base + "/v1/forecast", body, CLIENTS, 1)
        loaded = {name: [] for name in servers}
        walls = {name: [] for name in servers}
        for _ in range(rounds):
            for name, each_server in servers.items():
                times, wall = concurrent(each_server.base + "/v1/forecast", body, CLIENTS, each)
                loaded[name] += times
                walls[name].append((len(times), wall))
        layout = {name: started_line(each_server) for name, each_server in servers.items()}
    (b50, b95), (s50, s95) = p50_p95(baseline), p50_p95(single)
    rows = [
        {"what": "in-process forecast()", "code": "current", "clients": 1, "requests": alone, "p50_ms": b50,
         "p95_ms": b95, "req_per_s": 1000 / b50},
        {"what": "POST /v1/forecast", "code": "current", "clients": 1, "requests": alone, "p50_ms": s50,
         "p95_ms": s95, "req_per_s": 1000 / s50},
    ]
    rate, p95 = {}, {}
    for name, times in loaded.items():
        c50, p95[name] = p50_p95(times)
        rate[name] = sum(n for n, _ in walls[name]) / sum(wall for _, wall in walls[name])
        rows.append({"what": "POST /v1/forecast", "code": name, "clients": CLIENTS, "requests": len(times),
                     "p50_ms": c50, "p95_ms": p95[name], "req_per_s": rate[name]})
    print(f"pool {args.candidates:,} inline creators, {draws:,} draws, 9-point budget curve; "
          f"{CLIENTS} clients x {each} requests x {rounds} round(s) per server; {load_average()}")
    for name in servers:
        print(f"{name}: {layout[name]}, microlift.models.planning from {code[name]}")
    print_table(rows)
    for name in servers:
        print(f"req/s per round, {name}: " + ", ".join(f"{n / wall:.2f}" for n, wall in walls[name]))
    if commit is None:
        print(f"throughput with {CLIENTS} clients: {rate['current']:.2f} req/s "
              f"({rate['current'] * b50 / 1000:.2f}x one in-process forecast loop)")
        print(f"ratio service p50 / in-process p50 (1 client): {s50 / b50:.2f}")
        return
    print(f"ratio service p50 / in-process p50 (1 client): {s50 / b50:.2f}")
    print(f"throughput with {CLIENTS} clients: current {rate['current']:.2f} req/s, baseline ({commit}) "
          f"{rate[commit]:.2f} req/s: ratio {rate['current'] / rate[commit]:.2f} (target >= 2.0)")
    print(f"p95 with {CLIENTS} clients: current {p95['current']:.0f} ms (target <= 300 ms), "
          f"baseline {p95[commit]:.0f} ms")


if __name__ == "__main__":
    main()
