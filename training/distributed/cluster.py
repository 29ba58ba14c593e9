"""Where Dask work runs: an existing scheduler, or a small local cluster started for one command."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from microlift.models.extras import need

dask = need("dask", "dask")
distributed = need("dask", "distributed")
Client, LocalCluster = distributed.Client, distributed.LocalCluster
log = logging.getLogger(__name__)


@contextmanager
def connect(scheduler: str | None = None, workers: int = 2, threads: int = 1) -> Iterator:
    """A `distributed.Client` for the command's lifetime.

    `scheduler` (e.g. tcp://10.0.0.5:8786), else Dask's own `scheduler-address` setting (DASK_SCHEDULER_ADDRESS),
    else a LocalCluster of `workers` processes x `threads` threads that is shut down on exit. Worker processes,
    not threads: LightGBM's network layer allows one training per process.
    """
    if not log.isEnabledFor(logging.DEBUG):  # the scheduler's and workers' chatter only with --verbose
        logging.getLogger("distributed").setLevel(logging.WARNING)
    address = scheduler or dask.config.get("scheduler-address", None)
    if address:
        log.info("connecting to the Dask scheduler at %s", address)
        with Client(address) as client:
            yield client
        return
    log.info("starting a local Dask cluster: %d worker(s) x %d thread(s)", workers, threads)
    with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=":0",
                      silence_logs=logging.WARNING) as cluster, Client(cluster) as client:
        yield client
