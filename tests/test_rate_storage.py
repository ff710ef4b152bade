"""The rate limits' counters (rate_storage.py): counted per worker without a thread per
request, and counters nobody reads again are still swept away."""

import threading
import time

from limits import parse
from limits.strategies import FixedWindowRateLimiter

from samverkan.extensions import limiter
from samverkan.rate_storage import SWEEP_EVERY_SECONDS, WorkerMemoryStorage


def test_the_app_counts_in_the_workers_memory_by_default(app):
    assert isinstance(limiter.storage, WorkerMemoryStorage)


def test_counting_starts_no_thread(monkeypatch):
    storage = WorkerMemoryStorage("worker-memory://")
    started = []
    original = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self))
    window = FixedWindowRateLimiter(storage)
    limit = parse("5 per minute")
    answers = [window.hit(limit, "address", "1.2.3.4") for _ in range(7)]
    monkeypatch.setattr(threading.Thread, "start", original)
    assert answers == [True] * 5 + [False, False]  # still a limit
    assert started == []


def test_counters_nobody_reads_again_are_swept(monkeypatch):
    storage = WorkerMemoryStorage("worker-memory://")
    storage.timer.join()  # the one timer MemoryStorage starts when it is made
    storage.incr("gone", expiry=0.01)
    storage.incr("kept", expiry=60)
    time.sleep(0.02)
    storage.incr("other", expiry=60)  # within the second: no sweep yet
    assert "gone" in storage.storage
    storage._swept_at -= SWEEP_EVERY_SECONDS
    storage.incr("other", expiry=60)
    assert "gone" not in storage.storage and storage.get("kept") == 1


def test_sweeping_beside_readers_that_drop_keys_never_fails():
    """Requests read (and drop) expired counters without a lock while one of them sweeps."""
    storage = WorkerMemoryStorage("worker-memory://")
    for n in range(2000):
        storage.incr(f"key{n}", expiry=0.001)
    time.sleep(0.01)
    errors = []

    def read_all():
        try:
            for n in range(2000):
                storage.get(f"key{n}")
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            errors.append(exc)

    readers = [threading.Thread(target=read_all) for _ in range(4)]
    for reader in readers:
        reader.start()
    for _ in range(20):
        storage._sweep(time.time())
    for reader in readers:
        reader.join()
    assert errors == [] and not storage.storage
