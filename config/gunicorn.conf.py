"""gunicorn settings for `make run` (and production, with its own environment)."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Sync workers: each request is short database work. Issue 5 measures and tunes this.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = 30
graceful_timeout = 30  # a stopping worker finishes the requests it has
accesslog = "-"
errorlog = "-"
