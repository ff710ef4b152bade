"""gunicorn settings for `make run` (and production, with its own environment)."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Issue 5 measures these (README, Benchmarks); the environment may override them.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = 30
graceful_timeout = 30  # a stopping worker finishes the requests it has
accesslog = "-"
errorlog = "-"
