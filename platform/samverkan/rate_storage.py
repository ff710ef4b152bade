"""Rate-limit counters in the worker's memory, without starting a thread per request.

limits' MemoryStorage expires old counters on a timer thread that it starts again
whenever the last one has ended, 10 ms after it began: under load nearly every limited
request started a thread and waited for it to run, a tenth of a web submission's time
in the benchmark (py-spy on the workers, tests/bench/RESULTS.md). A fixed-window counter
is already dropped when it is read after its window, so this storage only sweeps the
counters nobody reads again, in the request itself and at most once a second.

`RATELIMIT_STORAGE_URI=worker-memory://` (the default) selects it; `redis://…` shares the
counts between workers and hosts instead.
"""

import threading
import time

from limits.storage import MemoryStorage

SWEEP_EVERY_SECONDS = 1.0


class WorkerMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["worker-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._swept_at = time.monotonic()
        self._sweeping = threading.Lock()

    # MemoryStorage calls this (by its private name) before every count.
    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802
        now = time.monotonic()
        if now - self._swept_at < SWEEP_EVERY_SECONDS or not self._sweeping.acquire(False):
            return
        try:
            self._swept_at = now
            self._sweep(time.time())
        finally:
            self._sweeping.release()

    def _sweep(self, now: float) -> None:
        """Drop counters past their window. Other threads read and drop keys without a
        lock (MemoryStorage.get), so every look-up here tolerates a key already gone."""
        for key, expires in list(self.expirations.items()):
            if expires <= now:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)
        for key, entries in list(self.events.items()):  # moving windows, if ever used
            if entries and all(entry.expiry <= now for entry in entries):
                self.events.pop(key, None)
