"""Rate limits counted in Redis (RATELIMIT_STORAGE_URI=redis://…): every worker and host
counts the same submissions and sign-ins, and a Redis that stops answering is counted
around in each worker's memory instead of failing the request (settings.py,
extensions._Limiter).

Each test stands for a second worker by making a second app: the limiter is one object,
so the second app's start replaces the storage the first one counted in, and only what
Redis holds is left of the first one's counts (a test with worker-memory:// shows the
counts are then lost). Needs Redis at $TEST_REDIS_URL (CI: 127.0.0.1:6379, where
SAMVERKAN_REQUIRE_REDIS=1 makes a missing Redis a failure, not a skip).
"""

import logging
import os
import socket
import threading
import time
import uuid

import pytest
import redis
from limits.errors import StorageError
from test_accounts import create, sign_in

from samverkan import create_app
from samverkan.extensions import STORAGE_RETRY_SECONDS, db, limiter

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ANSWERS = {"kind": "fraga", "area": "annat", "message": "Hej", "want_reply": "no"}
# The settings of conftest's app that a second app must share to be the same site.
SAME_SITE = (
    "TESTING",
    "SECRET_KEY",
    "INSTANCE_PATH",
    "UPLOAD_ROOT",
    "SQLALCHEMY_DATABASE_URI",
    "SERVER_NAME",
    "CITIZEN_OIDC_ISSUER",
    "CITIZEN_OIDC_CLIENT_ID",
    "CITIZEN_OIDC_CLIENT_SECRET",
)


@pytest.fixture(scope="module")
def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("SAMVERKAN_REQUIRE_REDIS") == "1":
            pytest.fail(f"SAMVERKAN_REQUIRE_REDIS=1 but Redis at {REDIS_URL} is not there: {error}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield client
    client.close()


@pytest.fixture
def workers(app, redis_client):
    """Makes apps of the same site counting in `storage` (Redis by default), with keys of
    their own; afterwards the session's app counts in its own storage again."""
    prefix = f"samverkan-test-{uuid.uuid4().hex}"
    made = []

    def make(storage=REDIS_URL, **settings):
        worker = create_app(
            {
                **{name: app.config[name] for name in SAME_SITE},
                "RATELIMIT_STORAGE_URI": storage,
                "RATELIMIT_KEY_PREFIX": prefix,
                "SUBMISSIONS_PER_ADDRESS": "3 per minute",
                **settings,
            }
        )
        made.append(worker)
        return worker

    yield make
    limiter.init_app(app)  # the limiter is one object for every app
    for worker in made:
        with worker.app_context():
            db.engine.dispose()
    keys = list(redis_client.scan_iter(match=f"*{prefix}*"))
    if keys:
        redis_client.delete(*keys)


def submit(worker, address="192.0.2.1"):
    return worker.test_client().post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions",
        json=ANSWERS,
        environ_base={"REMOTE_ADDR": address},
    )


def _closed_port() -> int:
    """A loopback port nothing listens on: a Redis that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_workers_sharing_redis_count_one_addresss_submissions_together(workers):
    first = workers()
    assert [submit(first).status_code for _ in range(2)] == [201, 201]
    second = workers()  # another worker: its own storage, the same Redis
    assert submit(second).status_code == 201
    refused = submit(second)
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert submit(second, address="192.0.2.2").status_code == 201  # another caller goes on


def test_workers_counting_in_their_own_memory_do_not_share(workers):
    """What the test above tells apart: a worker's memory dies with its storage."""
    first = workers("worker-memory://")
    assert [submit(first).status_code for _ in range(3)] == [201, 201, 201]
    assert submit(first).status_code == 429
    second = workers("worker-memory://")
    assert submit(second).status_code == 201


def test_failed_sign_ins_on_one_worker_count_on_another(app, workers, read_csrf):
    email = "anna@arvika.example"
    assert create(app, email).exit_code == 0
    first = workers()
    # Flask-Limiter's own limits are counted under this app's key prefix, not an earlier
    # app's (the limiter is one object): else this test's counts would outlive it in Redis.
    assert limiter._key_prefix == first.config["RATELIMIT_KEY_PREFIX"]
    answers = [
        sign_in(first.test_client(), read_csrf, email, password="fel-lösenord-123").status_code
        for _ in range(3)
    ]
    assert answers == [401, 401, 401]
    other = workers().test_client()
    for _ in range(2):
        assert sign_in(other, read_csrf, email, password="fel-lösenord-123").status_code == 401
    assert sign_in(other, read_csrf, email).status_code == 429  # the account's five are used


def test_a_redis_that_is_down_still_limits_in_the_workers_memory(workers, caplog):
    worker = workers(f"redis://127.0.0.1:{_closed_port()}/0")
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        taken = [submit(worker).status_code for _ in range(3)]
    assert taken == [201, 201, 201]  # no 500: citizens' submissions go on
    assert "rate limit storage unreachable" in caplog.text
    assert submit(worker).status_code == 429  # still limited, in this worker
    assert submit(worker, address="192.0.2.2").status_code == 201


def test_a_failed_sign_in_is_still_counted_while_redis_is_down(app, workers, read_csrf):
    email = "anna@arvika.example"
    assert create(app, email).exit_code == 0
    client = workers(f"redis://127.0.0.1:{_closed_port()}/0").test_client()
    for _ in range(5):
        assert sign_in(client, read_csrf, email, password="fel-lösenord-123").status_code == 401
    assert sign_in(client, read_csrf, email).status_code == 429


def test_counting_moves_back_to_redis_when_it_answers_again(workers, monkeypatch, caplog):
    worker = workers()
    assert submit(worker).status_code == 201  # in Redis
    monkeypatch.setattr(limiter.storage, "incr", _unreachable)
    assert [submit(worker).status_code for _ in range(3)] == [201, 201, 201]  # in memory
    assert submit(worker).status_code == 429
    monkeypatch.undo()  # Redis answers again, but is asked only after a while
    assert submit(worker).status_code == 429  # still the worker's memory
    limiter._storage_retry_at -= STORAGE_RETRY_SECONDS
    with caplog.at_level(logging.INFO, logger="flask-limiter"):
        taken = submit(worker)
    assert "answers again" in caplog.text
    assert taken.status_code == 201  # Redis's count: one before the outage, this one
    assert taken.headers["X-RateLimit-Remaining"] == "1"


def test_without_the_fallback_a_redis_that_is_down_is_an_error(workers):
    """Not silently unlimited: the error reaches the app's 500 page (here, the test)."""
    worker = workers(
        f"redis://127.0.0.1:{_closed_port()}/0", RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=False
    )
    with pytest.raises(StorageError):
        submit(worker)


def test_a_redis_that_hangs_is_given_up_on_and_counted_around(workers):
    """redis-py waits forever by default; the settings give it half a second. The stand-in
    takes connections and never answers; it closes after 20 s, so a worker without the
    timeout fails this test instead of hanging it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        closing = threading.Timer(20, silent.close)
        closing.start()
        try:
            worker = workers(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
            started = time.monotonic()
            assert submit(worker).status_code == 201
            waited = time.monotonic() - started
        finally:
            closing.cancel()
    assert waited < 10, f"the submission waited {waited:.1f} s for Redis"
    assert worker.config["RATELIMIT_STORAGE_OPTIONS"]["socket_timeout"] == 0.5


def _unreachable(*args, **kwargs):
    # What the storage's own methods raise (wrap_exceptions), which this stand-in skips.
    raise StorageError(redis.ConnectionError("Error 111 connecting. Connection refused."))
