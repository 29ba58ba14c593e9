"""Where a worker's time goes: py-spy samples the workers of a live `microlift serve` under load.

Clients send `POST /v1/rank` (or `/v1/forecast`) with the same inline candidates, back to back, while py-spy
records every worker's stacks (`--idle` off: only time spent running). The table names what the request spends its
CPU on, by stage of the request (each stage's share of all samples, a stage counted once per stack even when its
function recurses) and by function (self time, the function on top of the stack). Needs py-spy
(`pip install py-spy`) and permission to trace the workers (root, or ptrace_scope 0).

    python bench/profile_service.py                        # /v1/rank, 1 candidate, 2 workers, 20 s
    python bench/profile_service.py --candidates 100
    python bench/profile_service.py --route forecast --candidates 200 --clients 8
    python bench/profile_service.py --rate-limit          # with the rate limit counted in Redis
    python bench/profile_service.py --tiny                 # seconds, for the smoke test
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import requests
from _service import (
    BIN,
    BenchError,
    as_json,
    creator_records,
    load_average,
    microlift_serve,
    post,
    prepared_home,
    scratch,
)

from microlift.models.datasets import load_candidates

BRIEF = {"niche": "home", "product_price": 25.0, "baseline_units_per_month": 600, "compensation": "gifting",
         "marketplace": "amazon", "weeks": 8}
# Stages of a request: a sample counts for a stage when a frame of its stack is one of these (file, function).
STAGES = {
    "rate limit (Limiter.check)": {("ratelimit.py", "Limiter.check")},
    "database sync (Runtime.sync)": {("runtime.py", "Runtime.sync")},
    "parse and validate the body (parse_body)": {("openapi.py", "parse_body")},
    "inline candidates to a frame (candidate_frame)": {("plan.py", "candidate_frame")},
    "calibration lookup (calibration_for)": {("plan.py", "calibration_for")},
    "planning, all of it (planning.rank or planning.forecast)": {("planning.py", "rank"), ("planning.py", "forecast")},
    "scoring (score, score_with_matrices)": {("candidates.py", "score"), ("candidates.py", "score_with_matrices")},
    "ranking: slopes (brief_slopes, budget_slopes)": {("forecast.py", "brief_slopes"),
                                                      ("forecast.py", "budget_slopes")},
    "ranking: values (creator_values)": {("ranking.py", "creator_values")},
    "ranking: reasons (_reasons)": {("ranking.py", "_reasons")},
    "forecast: roster, draws, curve (forecast_budget)": {("forecast.py", "forecast")},
    "rounding the answer (rounded)": {("planning.py", "rounded")},
    "JSON encoding (json_response)": {("openapi.py", "json_response")},
    "metrics and headers (after_request)": {("app.py", "create_app.<locals>._after")},
    "access log": {("glogging.py", "Logger.access")},
    "outside the Flask app (gunicorn, sockets)": set(),  # the rest: samples with no Flask.__call__ frame
}


def frame_key(frame: str) -> tuple[str, str]:
    """(file name, function) of a py-spy raw frame `Class.function (path/file.py:line)`."""
    name, _, where = frame.rpartition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return file, name


def summarise(raw: str) -> tuple[int, dict[str, int], collections.Counter]:
    """Total samples, samples per stage and self samples per function of py-spy's raw (collapsed) output."""
    total, stages, own = 0, dict.fromkeys(STAGES, 0), collections.Counter()
    wanted = {where: stage for stage, places in STAGES.items() for where in places}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_key(f) for f in stack.split(";")]
        total += n
        seen = {wanted[f] for f in frames if f in wanted}
        if ("app.py", "Flask.__call__") not in frames:
            seen.add("outside the Flask app (gunicorn, sockets)")
        for stage in seen:
            stages[stage] += n
        file, name = frames[-1]
        own[f"{name} ({file})"] += n
    return total, stages, own


def load(url: str, body: bytes, clients: int, stop: threading.Event, counts: list[int]) -> list[threading.Thread]:
    def client():
        with requests.Session() as session:
            while not stop.is_set():
                post(session, url, body)
                counts.append(1)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--route", choices=("rank", "forecast"), default="rank")
    parser.add_argument("--candidates", type=int, default=1, help="inline candidates per request (default 1)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long py-spy records (default 20)")
    parser.add_argument("--top", type=int, default=15, help="functions listed by self time (default 15)")
    parser.add_argument("--rate-limit", action="store_true",
                        help="count requests in Redis (REDIS_URL, default redis://127.0.0.1:6379/0) as a deployment "
                             "does, with a limit no client reaches; without it the limit is off as in the other "
                             "benches")
    parser.add_argument("--keep", help="keep py-spy's raw stacks (and the server's log) in this folder")
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=f"{BIN}:/usr/local/bin:/usr/bin")
    if spy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    seconds = 2.0 if args.tiny else args.seconds
    home = prepared_home(*((1_500, 40) if args.tiny else (8_000, 200)))
    records = creator_records(load_candidates(home.data).sample(args.candidates, random_state=0))
    payload = {"brief": BRIEF, "candidates": records}
    payload.update({"top_k": 50} if args.route == "rank" else {"budget": 10_000.0, "draws": 1_000})
    body = as_json(payload)
    run_dir = Path(args.keep) if args.keep else scratch("microlift-bench-profile-")
    extra = {"MICROLIFT_RATE_LIMIT": "100000000",
             "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")} if args.rate_limit else {}
    with microlift_serve(home, run_dir, args.workers, **extra) as server:
        url = f"{server.base}/v1/{args.route}"
        with requests.Session() as session:
            for _ in range(5):
                post(session, url, body)
        stop, counts = threading.Event(), []
        threads = load(url, body, args.clients, stop, counts)
        time.sleep(1.0)
        outputs, spies = [], []
        for pid in server.worker_pids():
            out = run_dir / f"py-spy-{pid}.txt"
            outputs.append(out)
            spies.append(subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(max(seconds, 1))),
                                           "--rate", "250", "--format", "raw", "--output", str(out),
                                           "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        before = len(counts)
        started = time.perf_counter()
        for process in spies:
            _, err = process.communicate()
            if process.returncode != 0:
                stop.set()
                raise BenchError(f"py-spy failed: {err.decode()[-2000:]}")
        requests_done, wall = len(counts) - before, time.perf_counter() - started
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    total, stages, own = 0, dict.fromkeys(STAGES, 0), collections.Counter()
    for out in outputs:
        t, s, o = summarise(out.read_text())
        total += t
        own.update(o)
        for stage, n in s.items():
            stages[stage] += n
    if not total:
        raise BenchError("py-spy recorded no samples")
    print(f"POST /v1/{args.route}, {args.candidates:,} inline candidate(s), {args.clients} client(s), "
          f"{args.workers} worker(s): {requests_done} requests in {wall:.1f} s ({requests_done / wall:.1f} req/s); "
          f"{total:,} samples of running code; {load_average()}")
    print("\nshare of the workers' samples by stage of the request (a sample may fall in two nested stages):")
    for stage, n in sorted(stages.items(), key=lambda item: -item[1]):
        if n:
            print(f"  {n / total:6.1%}  {stage}")
    print(f"\ntop {args.top} functions by self time:")
    for name, n in own.most_common(args.top):
        print(f"  {n / total:6.1%}  {name}")
    work = stages["planning, all of it (planning.rank or planning.forecast)"]
    print(f"ratio of the workers' samples outside planning (HTTP, validation, limits, sync, encoding) to all: "
          f"{1 - work / total:.2f}")


if __name__ == "__main__":
    main()
