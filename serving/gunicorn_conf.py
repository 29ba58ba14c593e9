"""gunicorn settings for `microlift serve`, all from the environment (models/settings.py lists them)."""

from models.settings import ServiceSettings

_service = ServiceSettings.from_env()

bind = _service.bind
workers = _service.workers
threads = _service.threads
worker_class = "gthread"
timeout = _service.timeout
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = "info"
limit_request_line = 8190


def when_ready(server):
    from serving.serve import announce

    announce(_service)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
