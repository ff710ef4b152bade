"""The platform as it runs in production, for the fault tests: a fresh PostgreSQL database
(migrated and synced by the app's own commands), gunicorn with config/gunicorn.conf.py, the
outbox worker as its own process, and a mail server that can be told to refuse."""

import email
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

import psycopg
import requests
import sqlalchemy as sa

from samverkan.settings import PROJECT_ROOT

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
MAIL_FROM = "Samverkan <no-reply@samverkan.invalid>"
APP_ROLE = "samverkan_app"


def free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd and gunicorn get a port nobody else has
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_url() -> sa.URL:
    """The PostgreSQL server DATABASE_URL names (its database is never touched)."""
    raw = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    if not raw.startswith(("postgres://", "postgresql")):
        raise RuntimeError(f"make faults runs against PostgreSQL; DATABASE_URL is '{raw}'")
    url = sa.make_url(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", raw))
    return url.set(database=url.database or "postgres")


def conninfo(url: sa.URL) -> str:
    return url.render_as_string(hide_password=False)


def owner_query(url: sa.URL, sql: str, params: tuple = ()) -> list[tuple]:
    """One statement as the owner on a connection of its own (a restart ends every other)."""
    with psycopg.connect(conninfo(url), autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


class MailServer:
    """An aiosmtpd handler: refuses (451, try later) as many deliveries as it is told to,
    then accepts and records every message's Message-ID, recipients and subject."""

    def __init__(self):
        self.lock = threading.Lock()
        self.to_refuse = 0
        self.refused = 0
        self.accepted: list[tuple[str, tuple[str, ...], str]] = []
        self.on_accept: Callable[[], None] | None = None

    def refuse_next(self, count: int) -> None:
        with self.lock:
            self.to_refuse = count
            self.refused = 0

    def cut_before_next_reply(self, action: Callable[[], None]) -> None:
        """Run `action` once, after the next message is taken and before the server says
        so: the worst moment for the worker to lose its database."""
        with self.lock:
            self.on_accept = action

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        with self.lock:
            if self.to_refuse:
                self.to_refuse -= 1
                self.refused += 1
                return "451 4.3.0 Try again later"
            message = email.message_from_bytes(envelope.original_content, policy=policy.default)
            self.accepted.append(
                (str(message["Message-ID"]), tuple(envelope.rcpt_tos), str(message["Subject"]))
            )
            action, self.on_accept = self.on_accept, None
        if action is not None:
            action()
        return "250 2.0.0 OK"


@dataclass
class Stack:
    server: sa.URL
    database: str
    base_url: str
    env: dict
    logs: Path
    mail: MailServer
    gunicorn: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    completed: list = field(default_factory=list)  # every submission that got its 2xx
    abandoned: list = field(default_factory=list)  # (kind, key) of those given up on

    @property
    def owner_url(self) -> sa.URL:
        return self.server.set(database=self.database)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return owner_query(self.owner_url, sql, params)

    def web_workers(self) -> list[int]:
        """The gunicorn arbiter's children: its workers."""
        pid = self.gunicorn.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return sorted(int(child) for child in children)

    def terminate_app_connections(self) -> int:
        """pg_terminate_backend on every connection the application role holds to this
        database (the web workers' and the outbox worker's alike). Returns how many."""
        rows = self.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = %s AND datname = %s",
            (APP_ROLE, self.database),
        )
        return sum(1 for (terminated,) in rows if terminated)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / name
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _run(command: list[str], env: dict, logs: Path, name: str) -> None:
    with (logs / name).open("w") as out:
        result = subprocess.run(
            command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode:
        raise RuntimeError(
            f"{' '.join(command[2:])} failed ({result.returncode}):\n"
            + (logs / name).read_text(errors="replace")[-3000:]
        )


def _wait_until_ready(stack: Stack, deadline_seconds: float = 60) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if stack.gunicorn.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + stack.log_tail("gunicorn.log"))
        try:
            if requests.get(f"{stack.base_url}/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not become ready:\n" + stack.log_tail("gunicorn.log"))


def _wait_for_line(
    stack: Stack, process: subprocess.Popen, log: str, text: str, deadline_seconds: float = 60
) -> None:
    deadline = time.monotonic() + deadline_seconds
    while text not in (stack.logs / log).read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"no '{text}' in {log}:\n" + stack.log_tail(log))
        time.sleep(0.1)


def start(stack: Stack) -> None:
    """Migrate and sync as `make run` does, then serve and deliver."""
    python = sys.executable
    _run([python, "-m", "flask", "db", "upgrade"], stack.env, stack.logs, "upgrade.log")
    _run([python, "-m", "flask", "sync"], stack.env, stack.logs, "sync.log")
    stack.gunicorn = _spawn(
        [python, "-m", "gunicorn", "--config", "config/gunicorn.conf.py", "wsgi:app"],
        stack,
        "gunicorn.log",
    )
    stack.worker = _spawn(
        [python, "-m", "flask", "outbox", "run", "--interval", "0.2"], stack, "outbox.log"
    )
    _wait_until_ready(stack)
    _wait_for_line(stack, stack.worker, "outbox.log", "outbox: delivering to")


def _spawn(command: list[str], stack: Stack, log: str) -> subprocess.Popen:
    with (stack.logs / log).open("w") as out:  # the child keeps its own copy of the file
        return subprocess.Popen(
            command, env=stack.env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT
        )


def stop(stack: Stack) -> None:
    for process in (stack.worker, stack.gunicorn):
        if process is None:
            continue
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_stack(tmp: Path, mail: MailServer, smtp_port: int) -> Stack:
    server = server_url()
    database = f"samverkan_faults_{uuid.uuid4().hex[:10]}"
    try:
        owner_query(server, f'CREATE DATABASE "{database}"')
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"make faults needs a PostgreSQL server: {server.render_as_string()} did not "
            f"answer ({exc})"
        ) from exc
    port = free_port()
    (tmp / "instance").mkdir()
    (tmp / "logs").mkdir()
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "DATABASE_URL": conninfo(server.set(database=database)),
        "SAMVERKAN_INSTANCE": str(tmp / "instance"),
        "SAMVERKAN_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_SECURITY": "none",  # loopback only
        "MAIL_FROM": MAIL_FROM,
        # Retries after a refused delivery wait 1, 2, 4 … seconds here, not minutes.
        "OUTBOX_RETRY_BASE_SECONDS": "1",
        # Every client of the test comes from 127.0.0.1: the per-address limit is for
        # people, not for this load.
        "SUBMISSIONS_PER_ADDRESS": "100000 per minute",
        "SUBMISSIONS_PER_MEMBER": "100000 per minute",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("APP_DATABASE_URL", "PUBLIC_URL", "TRUSTED_HOSTS", "PROXY_HOPS"):
        env.pop(name, None)
    return Stack(
        server=server,
        database=database,
        base_url=f"http://127.0.0.1:{port}",
        env=env,
        logs=tmp / "logs",
        mail=mail,
    )


def drop_database(stack: Stack) -> None:
    owner_query(stack.server, f'DROP DATABASE IF EXISTS "{stack.database}" WITH (FORCE)')


# -- restarting PostgreSQL itself ----------------------------------------------------------


@dataclass
class Cluster:
    version: str
    name: str

    def command(self, action: str) -> list[str]:
        return ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action]


def local_cluster(server: sa.URL) -> tuple[Cluster | None, str]:
    """The Debian cluster serving the URL, if this process may restart it; else the reason."""
    if server.host not in (None, "", "127.0.0.1", "localhost", "::1"):
        return None, f"the PostgreSQL server {server.host} is not on this machine"
    if os.geteuid() != 0:
        return None, "restarting PostgreSQL needs root (pg_ctlcluster)"
    if not shutil.which("pg_lsclusters") or not shutil.which("pg_ctlcluster"):
        return None, "pg_ctlcluster is not installed (Debian's postgresql-common)"
    port = server.port or 5432
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        version, name, cluster_port, status, *_ = line.split()
        if int(cluster_port) == port and status.startswith("online"):
            return Cluster(version, name), ""
    return None, f"no local cluster is online on port {port}"


def server_is_up(server: sa.URL) -> bool:
    try:
        owner_query(server, "SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def ensure_running(cluster: Cluster, server: sa.URL, deadline_seconds: float = 60) -> None:
    """Start the cluster if it is down, and wait until it answers."""
    deadline = time.monotonic() + deadline_seconds
    while not server_is_up(server):
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL {cluster.version}/{cluster.name} did not come back")
        status = subprocess.run(cluster.command("status"), capture_output=True, check=False)
        if status.returncode == 3:  # not running: start it
            subprocess.run(cluster.command("start"), capture_output=True, check=False)
        time.sleep(0.2)
