"""gunicorn settings for `microlift serve`, all from the environment (serving/settings.py lists them)."""

import os

from prometheus_client import multiprocess

from microlift.serving.runtime import one_malloc_arena
from microlift.serving.serve import announce
from microlift.serving.settings import ServiceSettings

_service = ServiceSettings.from_env()

bind = _service.bind
workers = _service.workers
threads = _service.threads
worker_class = "microlift.serving.worker.ThreadWorker"  # gthread that bounds slow requests and drains on stop
timeout = _service.timeout
graceful_timeout = 10  # browsers keep idle connections open; a stop should not wait long for them
keepalive = 5
# each worker touches its heartbeat file on every pass of its loop (once per request or more): in memory, not on disk
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
control_socket_disable = True  # gunicorn >= 25.1 would share one control socket per user across services
accesslog = "-"
errorlog = "-"
loglevel = "info"
limit_request_line = 8190


def when_ready(server):
    announce(_service)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    one_malloc_arena()  # before the worker starts its threads
