"""gunicorn settings for `make run` (and production, with its own environment)."""

import gc
import os
import sys

from gunicorn import glogging

from samverkan.observability import log_format, log_level
from samverkan.settings import env_number, environment

try:  # a bad setting stops the start with its name, not deep in gunicorn's logging setup
    environment()
    log_format(os.environ.get("LOG_FORMAT"))
    _level = log_level(os.environ.get("LOG_LEVEL", "info"))
    _workers = env_number("WEB_CONCURRENCY", 4, kind=int, above=0)
    _threads = env_number("GUNICORN_THREADS", 1, kind=int, above=0)
    _port = env_number("PORT", 8000, kind=int, above=0)
except RuntimeError as problem:
    sys.exit(f"config/gunicorn.conf.py: {problem}")

_host = os.environ.get("HOST", "127.0.0.1").strip("[]")
# An IPv6 address is written in brackets before its port (HOST=::1 is [::1]:8000).
bind = f"{f'[{_host}]' if ':' in _host else _host}:{_port}"
# Chosen by measurement (README, Speed; tests/bench/RESULTS.md): on the 2-core machine, 4 sync
# workers (two per core, so one works while another waits on PostgreSQL) gave every page a
# lower p99 than 2 processes x 4 threads, and as many requests per second or more on every
# page but the inbox.
# The environment may override them.
workers = _workers
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = _threads
timeout = 30
graceful_timeout = 30  # a stopping worker finishes the requests it has
# No runtime control socket: nothing here uses it, and every gunicorn on a machine would
# share its default path.
control_socket_disable = True
# Heartbeat files in memory (gunicorn's advice), so a slow disk never stalls the workers.
worker_tmp_dir = "/dev/shm"  # noqa: S108 - not a temporary file of ours

# Logs: one JSON object per line on stderr, gunicorn's own lines included. No gunicorn
# access log: it would print raw paths, and status links carry private tokens in theirs;
# the app logs each request by its route instead (samverkan/observability.py).
accesslog = None


class NoAccessLog(glogging.Logger):
    """gunicorn's logger without its access line. With a logging config gunicorn treats
    access logging as on (the level below only drops the line) and gathers its fields,
    headers and environment included, for every request: a few per cent of a page's time."""

    def access(self, resp, req, environ, request_time) -> None:
        return None


logger_class = NoAccessLog
errorlog = "-"
loglevel = _level.lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": _level, "handlers": ["samverkan-log"]},
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": [], "propagate": True},
        # Switched off here too, should another logger class be configured.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
    "handlers": {"samverkan-log": {"()": "samverkan.observability.log_handler"}},
    "formatters": {},
}


def pre_request(worker, req):
    """gunicorn's default logs each raw path at debug level; paths carry private tokens."""


def post_worker_init(worker):
    """The app is loaded, and what loading made lives as long as the worker: frozen out of
    the garbage collector's full passes. Each walked every object in the worker (about
    100 ms of CPU on the 2-core machine, every three thousand or so web submissions: what
    is alive at a young pass counts towards the next full one, even when it is freed a
    moment later), and the worker stood still meanwhile, with requests queued behind it
    (tests/bench/RESULTS.md). Later full passes walk only what came after. Workers load
    the app themselves (no preload_app): were it loaded before the fork, the freeze belongs
    in the master instead, so that the workers keep sharing its memory."""
    gc.collect()
    gc.freeze()


def when_ready(server):
    """Rate limits counted in each worker's memory (the default) let an address through as
    many times more as there are workers: production is told to share them."""
    storage = os.environ.get("RATELIMIT_STORAGE_URI", "worker-memory://")
    production = environment() == "production"
    if production and server.cfg.workers > 1 and storage.startswith("worker-memory"):
        server.log.warning(
            "rate limits are counted in each of the %d workers' memory, so an address gets "
            "up to %d times its limits: set RATELIMIT_STORAGE_URI (e.g. redis://host:6379) "
            "to share the counts",
            server.cfg.workers,
            server.cfg.workers,
        )
