"""Training and scoring on Dask as the data grows: time and peak memory for 1M and 10M posts with 1 and 2 workers,
against single-machine training of the same data, and rows per second of batch scoring.

Baselines are measured in the same run: `single` is `training.train.train_all` in this process (1M posts only;
10M does not fit this machine's time box); scoring's baseline is `models.candidates.score` in process on the same
catalog. Peak memory is the highest summed RSS of this process and its children (scheduler, nannies, workers),
sampled every 0.2 s. Workers run one thread each; LightGBM's own threads follow.

    python bench/dask_scale.py                      # 1M posts (and 10M with --sizes 1000000,10000000)
    python bench/dask_scale.py --tiny               # ~30k posts, for the smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before LightGBM loads: a busy 2-core machine

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psutil  # noqa: E402

from microlift.models.brief import Brief  # noqa: E402
from microlift.models.datasets import load_dataset  # noqa: E402
from microlift.training.distributed.cluster import connect  # noqa: E402
from microlift.training.distributed.data import load_partitioned  # noqa: E402
from microlift.training.distributed.score import score_partitioned  # noqa: E402
from microlift.training.distributed.train import train_all as train_on_dask  # noqa: E402
from microlift.training.prepare import prepare  # noqa: E402
from microlift.training.scoring import score_creators  # noqa: E402
from microlift.training.simulation.generator import sample_creators  # noqa: E402
from microlift.training.simulation.partitioned import simulate_partitioned  # noqa: E402
from microlift.training.train import train_all  # noqa: E402

POSTS_PER_CREATOR = 16.5  # the simulator's organic history plus campaign posts, at ~1 campaign per 300 creators
BRIEF = {"niche": "beauty", "product_price": 30.0, "baseline_units_per_month": 500.0, "compensation": "gifting",
         "marketplace": "amazon", "weeks": 4}


class PeakMemory:
    """Highest summed RSS of this process and all its descendants while the block runs (bytes)."""

    def __enter__(self) -> PeakMemory:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a process may end between listing and reading
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def measure(fn, *args, **kwargs) -> tuple[float, float, object]:
    """(seconds, peak GB, result) of fn(*args, **kwargs)."""
    with PeakMemory() as memory:
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - started
    return seconds, memory.peak / 1e9, result


def write_catalog(n: int, folder: Path, parts: int) -> Path:
    """A creators catalog of n rows as Parquet parts."""
    creators = sample_creators(n, np.random.default_rng(7)).drop(columns=["er_effect", "conv_effect"])
    folder.mkdir(parents=True, exist_ok=True)
    for k, part in enumerate(np.array_split(np.arange(n), parts)):
        creators.iloc[part].to_parquet(folder / f"part-{k:05d}.parquet", index=False)
    return folder


def train_single(folder: Path):
    return train_all(prepare(load_dataset(folder)), progress=False)


def train_dask(folder: Path, workers: int):
    with connect(workers=workers, threads=1) as client:
        return train_on_dask(client, load_partitioned(folder), progress=False)


def score_whole(catalog: Path, brief: Brief, models: dict, out: Path) -> None:
    score_creators(pd.read_parquet(catalog), brief, models).to_parquet(out, index=False)


def score_dask(catalog: Path, brief: Brief, models: dict, out: Path) -> None:
    score_partitioned(catalog, brief, models).to_parquet(out, write_index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    parser.add_argument("--sizes", default="1000000", help="posts per dataset, comma separated (default 1000000)")
    parser.add_argument("--catalog", type=int, default=1_000_000, help="creators in the scoring catalog")
    parser.add_argument("--workers", default="1,2", help="worker counts to time (default 1,2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = [30_000] if args.tiny else [int(s) for s in args.sizes.split(",")]
    catalog_rows = 20_000 if args.tiny else args.catalog
    worker_counts = [int(w) for w in args.workers.split(",")]
    rows, models, single_seconds = [], None, {}
    with tempfile.TemporaryDirectory(prefix="dask-scale-") as tmp:
        for posts in sizes:
            creators = int(posts / POSTS_PER_CREATOR)
            campaigns = max(8, creators // 300)
            parts = max(4, posts // 250_000)
            folder = Path(tmp) / f"posts-{posts}"
            seconds, peak, counts = measure(simulate_partitioned, creators, campaigns, parts, folder, seed=0,
                                            progress=False)
            rows.append((f"{counts['posts']:,}", "simulate", f"{parts} parts", seconds, peak))
            if posts <= 1_000_000:
                seconds, peak, _ = measure(train_single, folder)
                rows.append((f"{counts['posts']:,}", "single", "in process", seconds, peak))
                single_seconds[posts] = seconds
            for workers in worker_counts:
                seconds, peak, trained = measure(train_dask, folder, workers)
                rows.append((f"{counts['posts']:,}", "dask", f"{workers} worker(s)", seconds, peak))
                single_seconds[(posts, workers)] = seconds
                models = {k: trained.models[k] for k in ("engagement", "conversion", "posting")}
        brief = Brief.from_mapping(dict(BRIEF))
        catalog = write_catalog(catalog_rows, Path(tmp) / "catalog", parts=max(2, catalog_rows // 100_000))
        seconds, peak, _ = measure(score_whole, catalog, brief, models, Path(tmp) / "scored.parquet")
        scoring = [("in process", seconds, peak)]
        for workers in worker_counts:
            with connect(workers=workers, threads=1) as client:
                client.wait_for_workers(workers)
                seconds, peak, _ = measure(score_dask, catalog, brief, models, Path(tmp) / f"scored-{workers}")
            scoring.append((f"dask, {workers} worker(s)", seconds, peak))
    print(f"\n{'posts':>12s} {'what':9s} {'how':14s} {'seconds':>9s} {'peak GB':>8s}")
    for posts, what, how, seconds, peak in rows:
        print(f"{posts:>12s} {what:9s} {how:14s} {seconds:>9.1f} {peak:>8.2f}")
    print(f"\nscoring {catalog_rows:,} creators (read, features, both models, write):")
    for how, seconds, peak in scoring:
        print(f"  {how:22s} {seconds:>7.1f} s {catalog_rows / seconds:>12,.0f} rows/s  peak {peak:.2f} GB")
    first = sizes[0]
    two_over_one = (single_seconds.get((first, 2), np.nan) / single_seconds.get((first, 1), np.nan))
    dask_over_single = single_seconds.get((first, max(worker_counts)), np.nan) / single_seconds.get(first, np.nan)
    print(f"ratio at {first:,} posts: 2-worker / 1-worker time {two_over_one:.2f}; "
          f"dask ({max(worker_counts)} workers) / single-machine time {dask_over_single:.2f}")


if __name__ == "__main__":
    main()
