"""Served as in production: gunicorn with config/gunicorn.conf.py. Stopping it finishes the
requests in flight, and everything it prints is one JSON object per line."""

import json
import os
import re
import runpy
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_support import ANONYMOUS, submissions

from samverkan.settings import PROJECT_ROOT

GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, body: dict | None = None, timeout: float = 30) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def served(database_url, tmp_path):
    """gunicorn on a free port, against the test database, in production mode."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SAMVERKAN_INSTANCE": str(tmp_path),
        "SAMVERKAN_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }
    log = (tmp_path / "gunicorn.log").open("w+")
    process = subprocess.Popen(  # noqa: S603
        [str(GUNICORN), "--config", "config/gunicorn.conf.py", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if call(f"{base}/healthz", timeout=2)[0] == 200:
                break
        except OSError:
            pass
        assert process.poll() is None, Path(log.name).read_text()
        assert time.monotonic() < deadline, "gunicorn did not start"
        time.sleep(0.2)
    try:
        yield process, base, Path(log.name)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def reference_counters_locked(database_url: str):
    """Hold the lock a submission needs, so it waits in flight until we let go."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(sa.make_url(database_url).database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("LOCK TABLE reference_counters IN ACCESS EXCLUSIVE MODE"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


def test_stopping_finishes_the_request_in_flight(app, database_url, served):
    process, base, log_path = served
    answers: dict = {}

    def submit():
        answers["result"] = call(base + submissions("arvika", "synpunkter"), ANONYMOUS)

    with reference_counters_locked(database_url):
        citizen = threading.Thread(target=submit)
        citizen.start()
        time.sleep(1.0)
        assert citizen.is_alive(), f"the submission did not wait for the lock: {answers}"
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert citizen.is_alive(), "stopping cut the request in flight"
        assert process.poll() is None, "gunicorn stopped before its request was answered"
    citizen.join(timeout=30)

    status, body = answers["result"]
    assert status == 201, body
    assert json.loads(body)["reference"].startswith("ARV-")
    assert process.wait(timeout=30) == 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert any("Handling signal: term" in message for message in messages)
    (submitted,) = [line for line in lines if line.get("endpoint") == "api.submit"]
    assert submitted["status"] == 201 and submitted["tenant"] == "arvika"
    assert submitted["request_id"]


def test_no_gunicorn_access_line_prints_a_raw_path(database_url, served):
    process, base, log_path = served
    assert call(f"{base}/arvika/")[0] == 200
    assert call(f"{base}/arvika/status/{'a' * 43}")[0] == 404
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    text = log_path.read_text()
    assert "a" * 43 not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert not [line for line in lines if line["logger"] == "gunicorn.access"]
    requests = [line for line in lines if line["logger"] == "samverkan.request"]
    assert [(line["route"], line["status"]) for line in requests][-2:] == [
        ("/<slug:tenant>/", 200),
        (None, 404),  # the token is malformed: no route matched, and none is printed
    ]


def test_hooks_are_asked_once_whether_they_are_coroutines(app):
    """SamverkanFlask keeps ensure_sync's answer per function; async ones are still run."""

    def plain():
        return "plain"

    async def coroutine():
        return "awaited"

    assert app.ensure_sync(plain) is plain
    assert app.ensure_sync(plain) is plain
    assert plain in app._sync_functions
    with pytest.raises(RuntimeError, match="async"):  # as Flask: asgiref is not installed
        app.ensure_sync(coroutine)
    assert coroutine not in app._sync_functions


def test_a_worker_freezes_what_loading_the_app_made():
    """After loading the app a worker moves its objects out of the collector's full passes
    (config/gunicorn.conf.py: each walked the whole worker and stalled it)."""
    import gc
    import runpy

    settings = runpy.run_path(str(PROJECT_ROOT / "config" / "gunicorn.conf.py"))
    assert "preload_app" not in settings  # else the freeze belongs in the master
    frozen = gc.get_freeze_count()
    try:
        settings["post_worker_init"](None)
        # the modules, their functions and classes
        assert gc.get_freeze_count() > frozen + 10_000
    finally:
        if not frozen:
            gc.unfreeze()


@pytest.mark.parametrize(
    ("environment", "warned"),
    [
        ({"SAMVERKAN_ENV": "production"}, True),
        ({"SAMVERKAN_ENV": "production", "RATELIMIT_STORAGE_URI": "redis://cache:6379"}, False),
        ({}, False),  # make run: one machine, one person
    ],
)
def test_production_is_told_when_each_worker_counts_its_own_limits(
    monkeypatch, environment, warned
):
    import runpy
    from types import SimpleNamespace

    for name in ("SAMVERKAN_ENV", "RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = runpy.run_path(str(PROJECT_ROOT / "config" / "gunicorn.conf.py"))
    lines = []
    server = SimpleNamespace(
        cfg=SimpleNamespace(workers=settings["workers"]),
        log=SimpleNamespace(warning=lambda text, *args: lines.append(text % args)),
    )
    settings["when_ready"](server)
    if warned:
        assert lines == [
            "rate limits are counted in each of the 4 workers' memory, so an address gets up "
            "to 4 times its limits: set RATELIMIT_STORAGE_URI (e.g. redis://host:6379) to "
            "share the counts"
        ]
    else:
        assert lines == []


@pytest.mark.parametrize("first", ["wsgi", "samverkan.i18n", "samverkan.accounts.tokens"])
def test_the_app_imports_whichever_module_comes_first(first, tmp_path):
    """gunicorn imports wsgi first, the tests samverkan: an import cycle that only one order
    survives (samverkan.i18n ↔ the access checks, once) must fail here, not in production."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {first}; import wsgi"],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT / "platform"),
            "SAMVERKAN_INSTANCE": str(tmp_path),  # wsgi makes the app, with its dev key
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize(
    ("host", "bind"),
    [("127.0.0.1", "127.0.0.1:8123"), ("::1", "[::1]:8123"), ("[::]", "[::]:8123")],
)
def test_gunicorn_binds_an_ipv6_host_in_brackets(monkeypatch, host, bind):
    import runpy

    monkeypatch.setenv("HOST", host)
    monkeypatch.setenv("PORT", "8123")
    assert runpy.run_path(str(PROJECT_ROOT / "config" / "gunicorn.conf.py"))["bind"] == bind


def test_a_body_sent_without_its_length_over_the_limit_is_413_not_cut_short(app, served):
    """gunicorn ends a chunked body itself, and werkzeug stopped reading at the limit
    without a word: a submission over it was refused as broken JSON (400), not as too
    large (413), and one under it must still be read whole."""
    import httpx

    _, base, _ = served
    url = f"{base}/api/v1/tenants/arvika/services/synpunkter/submissions"

    def chunked(size: int):
        body = json.dumps({"message": "x" * size}).encode()
        return (body[i : i + 65536] for i in range(0, len(body), 65536))

    over = httpx.post(
        url,
        content=chunked(26 * 1024 * 1024),
        timeout=60,
        headers={"Content-Type": "application/json"},
    )
    assert over.status_code == 413
    under = httpx.post(
        url, content=chunked(1000), timeout=60, headers={"Content-Type": "application/json"}
    )
    assert under.status_code == 422 and "kind" in under.json()["errors"]


# -- settings that are no settings stop the start with their names --------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SAMVERKAN_ENV", "Production", "SAMVERKAN_ENV is 'development' or 'production'"),
        ("PUBLIC_URL", "e-tjanster.example.se", "PUBLIC_URL must be a whole address"),
        ("PROXY_HOPS", "abc", "PROXY_HOPS must be a whole number, not 'abc'"),
        ("PROXY_HOPS", "-1", "PROXY_HOPS must be 0 or more"),
        ("TENANT_CACHE_SECONDS", "-5", "TENANT_CACHE_SECONDS must be 0 or more"),
        ("KEYED_CACHE_SECONDS", "x", "KEYED_CACHE_SECONDS must be a number, not 'x'"),
        ("CLAMD_TIMEOUT", "0", "CLAMD_TIMEOUT must be more than 0"),
        ("CLAMD_STREAM_MAX_MB", "abc", "CLAMD_STREAM_MAX_MB must be a whole number"),
        ("SESSION_COOKIE_SECURE", "maybe", "SESSION_COOKIE_SECURE is 1 or 0"),
    ],
)
def test_a_setting_that_is_no_setting_stops_the_start_with_its_name(
    monkeypatch, tmp_path, name, value, message
):
    from samverkan.settings import load_settings

    monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        load_settings({"INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize(("value", "secure"), [("true", True), ("yes", True), ("0", False)])
def test_a_secure_cookie_is_asked_for_in_the_usual_words(monkeypatch, tmp_path, value, secure):
    from samverkan.settings import load_settings

    monkeypatch.setenv("SESSION_COOKIE_SECURE", value)
    assert load_settings({"INSTANCE_PATH": str(tmp_path)})["SESSION_COOKIE_SECURE"] is secure


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOG_LEVEL", "verbose", "LOG_LEVEL is not a log level"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT is 'json' or 'text'"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be more than 0"),
        ("PORT", "eighty", "PORT must be a whole number"),
        ("SAMVERKAN_ENV", "prod", "SAMVERKAN_ENV is 'development' or 'production'"),
    ],
)
def test_gunicorn_stops_at_a_setting_that_is_no_setting_naming_it(
    monkeypatch, name, value, message
):
    """Not 'Unable to configure handler' deep in gunicorn, nor a master with no workers."""
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=re.escape(message)):
        runpy.run_path(str(PROJECT_ROOT / "config" / "gunicorn.conf.py"))


def test_the_application_role_is_the_user_its_url_connects_as(monkeypatch, tmp_path):
    """The migrations grant to APP_DATABASE_ROLE: another name than the URL's user left
    the user the app connects as with no rights, and every page answered 500."""
    from samverkan.settings import load_settings

    monkeypatch.setenv("APP_DATABASE_URL", "postgresql://kommun_app:hemligt@db/samverkan")
    monkeypatch.delenv("APP_DATABASE_ROLE", raising=False)
    assert load_settings({"INSTANCE_PATH": str(tmp_path)})["APP_DATABASE_ROLE"] == "kommun_app"
    monkeypatch.setenv("APP_DATABASE_ROLE", "samverkan_app")
    with pytest.raises(RuntimeError, match="must be the user APP_DATABASE_URL connects as"):
        load_settings({"INSTANCE_PATH": str(tmp_path)})


def test_not_ready_while_the_application_connects_as_a_role_that_bypasses_row_security(
    app, database_url, tmp_path
):
    """As the owner (or a superuser) every member's rows reach every query: the probe
    says so and keeps traffic away, rather than serving with one guard gone."""
    if not database_url.startswith("postgresql"):
        pytest.skip("roles and row-level security are PostgreSQL's")
    from samverkan import create_app
    from samverkan.extensions import db

    as_owner = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "APP_DATABASE_URL": database_url,
        }
    )
    try:
        answer = as_owner.test_client().get("/readyz")
    finally:
        with as_owner.app_context():
            db.engine.dispose()  # its connections closed now, not left to the collector
    assert answer.status_code == 503
    assert "bypasses row-level security" in answer.get_json()["database"]
    assert app.test_client().get("/readyz").status_code == 200  # as the application role


def test_the_sqlite_database_is_readable_by_its_owner_only(tmp_path, monkeypatch):
    """It holds every answer; made as the umask left it, it was world-readable."""
    from samverkan import create_app
    from samverkan.extensions import db

    monkeypatch.delenv("DATABASE_URL", raising=False)
    existing = tmp_path / "samverkan.db"
    existing.touch(mode=0o644)
    existing.chmod(0o644)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 32})
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.engine.dispose()
    assert existing.stat().st_mode & 0o777 == 0o600


def test_opening_an_app_keeps_the_locks_this_process_holds_on_the_sqlite_file(
    tmp_path, monkeypatch
):
    """Closing any descriptor of a SQLite file drops every lock the process holds on it:
    making the file private must never open it once it exists (another app on it in the
    same process then found 'disk I/O error')."""
    from samverkan import create_app
    from samverkan.extensions import db

    monkeypatch.delenv("DATABASE_URL", raising=False)
    path = tmp_path / "samverkan.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # this process's write lock
    try:
        app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 32})
        with app.app_context():
            db.engine.dispose()
        other = subprocess.run(  # noqa: S603 - another process asks for the same lock
            [
                sys.executable,
                "-c",
                f"import sqlite3; sqlite3.connect({str(path)!r}, timeout=0)"
                ".execute('BEGIN IMMEDIATE')",
            ],
            capture_output=True,
            text=True,
        )
        assert "database is locked" in other.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize("name", ["DATABASE_URL", "APP_DATABASE_URL"])
def test_a_database_the_app_cannot_use_stops_the_start_naming_it_without_its_password(
    monkeypatch, tmp_path, name
):
    from samverkan.settings import load_settings

    monkeypatch.setenv(name, "mysql://root:hemligt@db/samverkan")
    with pytest.raises(RuntimeError, match=f"{name} must be a PostgreSQL or SQLite") as error:
        load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert "hemligt" not in str(error.value)
