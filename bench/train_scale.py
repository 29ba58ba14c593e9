"""Training at scale: `microlift train` on simulated datasets of about 100k, 1M and 3M posts.

Baseline, measured in the same run on the same folder: `microlift validate` (reading and checking every table
against the data contract), so the ratio is training time / loading time. Each command runs as its own process;
peak memory is that process's maximum resident set (wait4's ru_maxrss). The simulator writes 15-17 posts per
creator (organic and campaign posts); the dataset is simulated first and not timed.

    python bench/train_scale.py            # ~100k, ~1M and ~3M posts (tens of minutes)
    python bench/train_scale.py --tiny     # seconds, for the smoke test
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time

import numpy as np
from _service import BIN, ROOT, BenchError, Home, load_average, microlift, print_table, scratch

# posts wanted: (creators, campaigns); the simulator gives 15-17 posts per creator
SIZES = {100_000: (6_000, 150), 1_000_000: (64_000, 500), 3_000_000: (195_000, 1_000)}
TINY = {10_000: (600, 20)}  # one size: training has a fixed cost of ~15 s (MLflow run, plots)


def measured(env: dict[str, str], *argv: str) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one `microlift` command in a process of its own."""
    log = open(os.devnull, "wb")  # noqa: SIM115 - closed below, after the child is reaped
    started = time.perf_counter()
    process = subprocess.Popen([str(BIN / "microlift"), *argv], env=env, cwd=ROOT, stdout=log,
                               stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    log.close()
    if process.returncode != 0:
        raise BenchError(f"microlift {' '.join(argv)} exited with {process.returncode}:\n{stderr.decode()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    args = parser.parse_args()
    rows = []
    for creators, campaigns in (TINY if args.tiny else SIZES).values():
        run_dir = scratch("microlift-bench-train-")
        home = Home(run_dir)
        env = home.env(run_dir)
        data = str(run_dir / "data")
        started = time.perf_counter()
        out = microlift(env, "simulate", "--creators", creators, "--campaigns", campaigns, "--seed", 3,
                        "--out", data, "--quiet")
        simulated = time.perf_counter() - started
        posts = int(re.search(r"posts ([\d,]+)", out).group(1).replace(",", ""))
        load_s, load_mb = measured(env, "validate", "--data", data)
        train_s, train_mb = measured(env, "train", "--data", data, "--quiet")
        rows.append({"posts": posts, "creators": creators, "campaigns": campaigns, "simulate_s": simulated,
                     "validate_s": load_s, "validate_peak_mb": load_mb, "train_s": train_s,
                     "train_peak_mb": train_mb, "train/validate": train_s / load_s})
    print(f"wanted ~{', ~'.join(f'{t:,}' for t in (TINY if args.tiny else SIZES))} posts; {load_average()}")
    print_table(rows)
    if len(rows) > 1:
        posts = np.log([r["posts"] for r in rows])
        slope = np.polyfit(posts, np.log([r["train_s"] for r in rows]), 1)[0]
        memory = np.polyfit(posts, np.log([r["train_peak_mb"] for r in rows]), 1)[0]
        print(f"log-log slope against posts: training time {slope:.2f}, training peak memory {memory:.2f}")
    print("ratio training / loading (validate) time: " + ", ".join(
        f"{r['train/validate']:.1f} at {r['posts']:,} posts" for r in rows))


if __name__ == "__main__":
    main()
