"""The outbox: receipts queued in the submission's own transaction, delivered by
`outbox run` with retries and backoff, never twice; files in development, SMTP for real."""

import email
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from api_support import ANONYMOUS, FORSKOLEPLATS, WITH_REPLY
from conftest import count_all

from samverkan.cases import operations
from samverkan.catalogue.queries import form_for, get_enabled_service_or_404
from samverkan.database_roles import maintenance_session
from samverkan.db import utcnow
from samverkan.extensions import db
from samverkan.outbox import delivery, mails
from samverkan.outbox.models import FAILED, PENDING, SENT, OutboxMessage
from samverkan.outbox.transports import FileTransport, SMTPTransport, transport_from_config
from samverkan.settings import PROJECT_ROOT, load_settings
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant

SENDER = "Samverkan <no-reply@samverkan.invalid>"


def submit(client, answers=WITH_REPLY, service="synpunkter", member="arvika", **kwargs) -> dict:
    response = client.post(
        f"/api/v1/tenants/{member}/services/{service}/submissions", json=answers, **kwargs
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def messages(app) -> list[OutboxMessage]:
    """Every queued row of every member, read as the owner."""
    with app.app_context(), maintenance_session() as session:
        rows = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        session.expunge_all()
        return rows


def queue(app, count: int, members=("arvika", "kil")) -> None:
    """`count` messages spread over the members, due now."""
    with app.app_context(), maintenance_session() as session:
        ids = dict(session.execute(sa.select(Tenant.slug, Tenant.id)).all())
        for i in range(count):
            member = members[i % len(members)]
            session.add(
                OutboxMessage(
                    tenant_id=ids[member],
                    event_key=f"test:{i}",
                    recipient=f"person{i}@exempel.se",
                    subject=f"Meddelande {i}",
                    body="Hej!",
                )
            )
        session.commit()


def deliver(app, transport, **kwargs) -> delivery.DeliveryReport:
    with app.app_context():
        return delivery.deliver_due(db.engine, transport, SENDER, **kwargs)


class RecordingTransport:
    """Keeps what it was given; fails the first `failures` sends like a busy server."""

    def __init__(self, failures: int = 0, latency: float = 0.0, password: str = ""):
        self.failures = failures
        self.latency = latency
        self.password = password
        self.attempts = 0
        self.sent: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "a test list"

    def send(self, message) -> None:
        with self._lock:
            self.attempts += 1
            failing = self.attempts <= self.failures
        if failing:
            raise smtplib.SMTPServerDisconnected(f"try later (signed in with {self.password})")
        time.sleep(self.latency)  # a network round trip, so concurrent workers overlap
        with self._lock:
            self.sent.append(message)


@pytest.fixture
def mail_dir(app, tmp_path, monkeypatch) -> Path:
    """Development mail goes to a fresh folder; no SMTP host is configured."""
    monkeypatch.setitem(app.config, "MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setitem(app.config, "SMTP_HOST", "")
    return tmp_path / "mail"


# -- queueing: the receipt is part of the submission's transaction -------------------------


def test_a_submission_with_an_address_queues_exactly_one_receipt(app, client):
    created = submit(client, headers={"Idempotency-Key": "receipt-1"})
    replay = client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions",
        json=WITH_REPLY,
        headers={"Idempotency-Key": "receipt-1"},
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    [message] = messages(app)
    assert message.event_key == f"case:{created['reference']}:received"
    assert message.recipient == "anna@exempel.se"
    assert message.status == PENDING and message.attempts == 0
    assert message.next_attempt_at <= utcnow()
    # On PostgreSQL the submitting statement writes the reference into the texts.
    assert message.subject == f"Vi har tagit emot ditt ärende {created['reference']}"
    assert f"med referensnumret {created['reference']}." in message.body
    token = created["status_url"].rstrip("/").rsplit("/", 1)[-1]
    assert f"/arvika/arende/{token}\n" in message.body
    assert mails.REFERENCE_MARK not in message.subject + message.body
    assert message.body.endswith("Det här meddelandet går inte att svara på.")


def rename(app, slug: str, name: str) -> str:
    """The member's name set to `name`; its name before."""
    with app.app_context(), maintenance_session() as session:
        member = session.scalar(sa.select(Tenant).filter_by(slug=slug))
        before, member.name = member.name, name
        session.commit()
    return before


def test_each_receipt_carries_its_own_reference_link_and_the_members_name_now(app, client):
    """The receipt's text is written once per member, e-service and language and kept:
    each case still gets its own reference and link, and a renamed member its new name."""
    first, second = submit(client), submit(client)
    before = rename(app, "arvika", "Arvika kommun (nytt namn)")
    try:
        third = submit(client)
    finally:
        rename(app, "arvika", before)  # the other tests' member as it was
    bodies = [m.body for m in messages(app)]
    for created, body in zip((first, second, third), bodies, strict=True):
        token = created["status_url"].rstrip("/").rsplit("/", 1)[-1]
        assert f"med referensnumret {created['reference']}." in body
        assert f"/arvika/arende/{token}\n" in body and body.count("/arende/") == 1
    assert "(nytt namn)" not in bodies[1] and "Arvika kommun (nytt namn)" in bodies[2]


def test_a_submission_without_an_address_queues_nothing(app, client):
    submit(client, answers=ANONYMOUS)
    assert count_all(app, "cases") == 1
    assert count_all(app, "outbox_messages") == 0


def test_receipts_to_one_address_are_limited_and_the_case_is_still_registered(
    app, client, monkeypatch, read_csrf
):
    """Anyone can type anyone's address into a form: without a limit the platform's
    receipts could flood an inbox. Past it the case is registered all the same, and the
    citizen's receipt page says no mail went."""
    monkeypatch.setitem(app.config, "RECEIPTS_PER_RECIPIENT", "2 per hour")
    made = [submit(client)["reference"] for _ in range(3)]
    assert count_all(app, "cases") == 3
    assert [m.recipient for m in messages(app)] == ["anna@exempel.se"] * 2
    other = submit(client, answers={**WITH_REPLY, "email": "ANNA@exempel.se "})
    assert other["reference"] not in made and len(messages(app)) == 2  # the same address
    submit(client, answers={**WITH_REPLY, "email": "bo@exempel.se"})
    assert [m.recipient for m in messages(app)][-1] == "bo@exempel.se"
    # On the web: the receipt page says so.
    from test_citizen_flow import fill_synpunkter

    browser = app.test_client()
    check = browser.get(fill_synpunkter(browser, read_csrf))
    monkeypatch.setitem(app.config, "RECEIPTS_PER_RECIPIENT", "0 per hour")
    sent = browser.post("/arvika/e/synpunkter", data={"csrf_token": read_csrf(check.text)})
    receipt = browser.get(sent.location).text
    assert "Vi skickade inget kvitto med e-post den här gången" in receipt
    assert len(messages(app)) == 3


def test_a_rolled_back_submission_leaves_no_receipt(app):
    with app.test_request_context("/arvika/"):
        tenant = db.session.scalar(sa.select(Tenant).filter_by(slug="arvika"))
        bind_tenant(db.session, tenant.id)
        service = get_enabled_service_or_404("synpunkter")
        form = form_for(service)
        operations.submit_case(
            db.session,
            tenant,
            service,
            form,
            form.validate_all(WITH_REPLY).answers,
            channel="api",
            upload_root=Path(app.config["UPLOAD_ROOT"]),
        )
        # Queued in the same transaction as the case: visible to it, not yet committed.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
        db.session.rollback()
    assert count_all(app, "cases") == 0
    assert count_all(app, "outbox_messages") == 0


# -- delivery in development: files in the instance folder ---------------------------------


def test_outbox_run_once_writes_the_receipt_as_a_mail_file(app, client, mail_dir):
    created = submit(client, answers=FORSKOLEPLATS, service="forskoleplats")
    result = app.test_cli_runner().invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "outbox: 1 sent, 0 to retry later, 0 failed for good"

    [path] = mail_dir.glob("*.eml")
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # the status link is personal
    raw = path.read_bytes()
    mail = email.message_from_bytes(raw, policy=policy.default)
    assert mail["To"] == "anna@exempel.se"
    assert mail["From"] == SENDER
    assert mail["Subject"] == f"Vi har tagit emot ditt ärende {created['reference']}"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Content-Language"] == "sv"  # the case's: an API case without one is Swedish
    assert mail["Message-ID"].endswith("@samverkan.invalid>")
    body = mail.get_content()
    assert created["reference"] in body
    token = created["status_url"].rsplit("/", 1)[-1]
    assert f"http://localhost/arvika/arende/{token}" in body  # the citizen's status page
    assert "Arvika kommun" in body
    # E-mail is not a secure channel: no answers, and no personnummer in any form.
    text = raw.decode() + body
    for answer in ("8112289874", "811228-9874", "0115-0005", "Lilla Berg", "Storgatan 1"):
        assert answer not in text

    [message] = messages(app)
    assert message.status == SENT and message.attempts == 1 and message.sent_at is not None


def test_a_message_marked_sent_is_never_sent_again(app, client, mail_dir):
    submit(client)
    runner = app.test_cli_runner()
    assert "1 sent" in runner.invoke(args=["outbox", "run", "--once"]).output
    [path] = mail_dir.glob("*.eml")
    path.unlink()
    transport = RecordingTransport()
    later = deliver(app, transport, now=utcnow() + timedelta(days=30))
    again = runner.invoke(args=["outbox", "run", "--once"])
    assert not later and transport.attempts == 0
    assert again.output.strip() == "outbox: 0 sent, 0 to retry later, 0 failed for good"
    assert list(mail_dir.glob("*.eml")) == []
    assert messages(app)[0].attempts == 1


# -- retries and backoff -------------------------------------------------------------------


def test_a_refused_message_is_retried_with_growing_waits_and_sent_once(app):
    queue(app, 1)
    transport = RecordingTransport(failures=3)
    start = utcnow()
    waits = []
    for minutes in (0, 0.5, 1, 2.5, 3, 6, 7, 60):
        report = deliver(app, transport, now=start + timedelta(minutes=minutes))
        [message] = messages(app)
        waits.append((minutes, report.sent, report.retrying, message.next_attempt_at - start))
    minute = timedelta(minutes=1)
    assert [(m, sent, retrying) for m, sent, retrying, _ in waits] == [
        (0, 0, 1),  # first try refused: next in 1 minute
        (0.5, 0, 0),  # not due yet: nothing is tried
        (1, 0, 1),  # refused again: next in 2 minutes
        (2.5, 0, 0),
        (3, 0, 1),  # refused a third time: next in 4 minutes
        (6, 0, 0),
        (7, 1, 0),  # the server takes it
        (60, 0, 0),  # and it is never sent again
    ]
    assert [wait for m, _, _, wait in waits if m in (0, 1, 3)] == [minute, 3 * minute, 7 * minute]
    assert transport.attempts == 4 and len(transport.sent) == 1
    [message] = messages(app)
    assert message.status == SENT and message.attempts == 4
    assert message.last_error.startswith("SMTPServerDisconnected: try later")


def test_a_message_is_given_up_after_the_last_attempt_without_keeping_the_password(app):
    queue(app, 1)
    transport = RecordingTransport(failures=1000, password="hemligt-lösen-42")
    now = utcnow()
    for _ in range(delivery.MAX_ATTEMPTS + 2):
        deliver(app, transport, now=now)
        now += delivery.LONGEST_WAIT
    [message] = messages(app)
    assert transport.attempts == delivery.MAX_ATTEMPTS
    assert message.status == FAILED and message.attempts == delivery.MAX_ATTEMPTS
    assert "hemligt-lösen-42" not in message.last_error
    assert message.last_error.endswith("(signed in with ***)")


def test_an_address_that_cannot_be_written_fails_at_once(app):
    queue(app, 1)
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(OutboxMessage).values(recipient="inte en adress"))
        session.commit()
    transport = RecordingTransport()
    report = deliver(app, transport)
    [message] = messages(app)
    assert report.failed == 1 and transport.attempts == 0
    assert message.status == FAILED and "InvalidHeaderDefect" in message.last_error


def test_status_counts_and_requeue_gives_failed_mail_another_round(app):
    queue(app, 3)
    with app.app_context(), maintenance_session() as session:
        first = session.scalar(sa.select(OutboxMessage).filter_by(event_key="test:0"))
        first.status, first.attempts, first.last_error = FAILED, 10, "SMTPDataError: 554"
        session.commit()
    runner = app.test_cli_runner()
    output = runner.invoke(args=["outbox", "status"]).output
    assert output.splitlines() == [
        "pending 2 (due now 2), sent 0, failed 1",
        "  failed  arvika  test:0  SMTPDataError: 554",
    ]
    assert runner.invoke(args=["outbox", "requeue"]).output.strip() == (
        "outbox: 1 failed message(s) queued again"
    )
    assert runner.invoke(args=["outbox", "status"]).output.strip() == (
        "pending 3 (due now 3), sent 0, failed 0"
    )


# -- many workers, one delivery ------------------------------------------------------------


def test_concurrent_workers_never_send_one_message_twice(app):
    queue(app, 40)
    transport = RecordingTransport(latency=0.005)
    start = threading.Barrier(4)

    def worker(_: int) -> int:
        start.wait()
        return deliver(app, transport).sent

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(worker, range(4)))
    ids = Counter(message["Message-ID"] for message in transport.sent)
    assert len(ids) == 40 and set(ids.values()) == {1}
    assert sum(counts) == 40 and transport.attempts == 40
    assert {message.status for message in messages(app)} == {SENT}


# -- SMTP: a real server on the loopback ---------------------------------------------------


class Inbox:
    """What the local SMTP server was handed."""

    def __init__(self):
        self.received: list[tuple[str, list[str], bytes, str | None]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        login = session.auth_data.login.decode() if session.authenticated else None
        self.received.append(
            (envelope.mail_from, envelope.rcpt_tos, envelope.original_content, login)
        )
        return "250 2.0.0 OK"


def _accept(user: bytes, password: bytes):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user and auth_data.password == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return authenticator


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:  # aiosmtpd cannot listen on port 0: ask for a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_accept(b"utskick", b"server-losen-7"),
        auth_require_tls=False,  # loopback only: no certificate to test with
    )
    controller.start()
    yield inbox, port
    controller.stop()


def test_outbox_run_delivers_over_smtp_with_the_configured_account(
    app, client, smtp_server, monkeypatch
):
    inbox, port = smtp_server
    for key, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "SMTP_USER": "utskick",
        "SMTP_PASSWORD": "server-losen-7",
        "MAIL_FROM": "Arvika e-tjänster <e-tjanster@arvika.example>",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    created = submit(client)
    result = app.test_cli_runner().invoke(args=["outbox", "run", "--once"])
    assert result.output.strip() == "outbox: 1 sent, 0 to retry later, 0 failed for good"
    [(mail_from, recipients, content, login)] = inbox.received
    assert (mail_from, recipients, login) == (
        "e-tjanster@arvika.example",
        ["anna@exempel.se"],
        "utskick",
    )
    mail = email.message_from_bytes(content, policy=policy.default)
    assert created["reference"] in mail["Subject"]
    assert mail["Message-ID"].endswith("@arvika.example>")
    assert created["status_url"].rsplit("/", 1)[-1] in mail.get_content()


def test_a_wrong_smtp_password_is_retried_and_never_stored(app, smtp_server):
    inbox, port = smtp_server
    queue(app, 1)
    transport = SMTPTransport("127.0.0.1", port, "none", "utskick", "fel-losen-99")
    report = deliver(app, transport)
    [message] = messages(app)
    assert report.retrying == 1 and inbox.received == []
    assert message.status == PENDING and message.last_error.startswith(
        "SMTPAuthenticationError: (535"
    )
    assert "fel-losen-99" not in message.last_error


def test_the_same_event_gets_the_same_message_id_and_the_same_file(app, tmp_path):
    """If a worker dies between sending and committing, the retry carries the same
    Message-ID (the receiving server can drop the copy) and overwrites its own file."""
    queue(app, 1)
    [message] = messages(app)
    first = delivery.compose(message, SENDER)
    second = delivery.compose(message, SENDER)
    assert first["Message-ID"] == second["Message-ID"]
    transport = FileTransport(tmp_path)
    transport.send(first)
    transport.send(second)
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_a_mail_queued_before_its_language_was_recorded_goes_without_content_language(app):
    queue(app, 1)
    [message] = messages(app)
    assert message.language is None  # as a row from before migration 0016
    assert "Content-Language" not in delivery.compose(message, SENDER)
    message.language = "en"
    assert delivery.compose(message, SENDER)["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("setting", "value", "error"),
    [
        ("SMTP_SECURITY", "tls", "SMTP_SECURITY is 'tls'; use one of starttls, ssl, none"),
        ("SMTP_PORT", "smtp", "SMTP_PORT is 'smtp'; give a port number"),
        ("SMTP_PASSWORD", "", "set both SMTP_USER and SMTP_PASSWORD, or neither"),
        ("MAIL_FROM", "Samverkan", "MAIL_FROM 'Samverkan' is not an e-mail address"),
        ("SMTP_PASSWORD", "lösen", "SMTP_USER and SMTP_PASSWORD can only hold ASCII characters"),
    ],
)
def test_a_mail_setting_that_cannot_work_stops_the_worker_with_its_name(
    app, monkeypatch, setting, value, error
):
    monkeypatch.setitem(app.config, "SMTP_HOST", "smtp.exempel.se")
    monkeypatch.setitem(app.config, "SMTP_USER", "utskick")
    monkeypatch.setitem(app.config, "SMTP_PASSWORD", "losen")
    monkeypatch.setitem(app.config, setting, value)
    result = app.test_cli_runner().invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 1
    assert f"Error: {error}" in result.output


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_the_port_follows_the_security_unless_it_is_given(security, port):
    config = {"SMTP_HOST": "smtp.exempel.se", "SMTP_SECURITY": security, "SMTP_PORT": None}
    assert transport_from_config(config).port == port
    assert transport_from_config({**config, "SMTP_PORT": "2525"}).port == 2525


def test_an_empty_smtp_host_in_the_environment_keeps_the_files_mail_server(tmp_path, monkeypatch):
    """SMTP_HOST="" (a deployment template's blank) must not switch mail to files."""
    config = tmp_path / "samverkan.toml"
    shipped = (PROJECT_ROOT / "config" / "samverkan.toml").read_text()
    config.write_text(shipped.replace('smtp_host = ""', 'smtp_host = "smtp.kommun.se"'))
    monkeypatch.setenv("SAMVERKAN_CONFIG", str(config))
    monkeypatch.setenv("SMTP_HOST", "")
    monkeypatch.delenv("SMTP_PORT", raising=False)
    settings = load_settings({"SECRET_KEY": "x" * 40, "INSTANCE_PATH": str(tmp_path)})
    assert settings["SMTP_HOST"] == "smtp.kommun.se"
    assert transport_from_config(settings).port == 587


def test_production_does_not_deliver_mail_to_files(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", "")
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    result = app.test_cli_runner().invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 1
    assert "Error: SAMVERKAN_ENV=production needs SMTP_HOST" in result.output


# -- the long-running worker ---------------------------------------------------------------


def test_the_worker_delivers_and_stops_cleanly_on_sigterm(app, client, database_url, tmp_path):
    created = submit(client)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SAMVERKAN_INSTANCE": str(tmp_path),
        "SECRET_KEY": "test-secret-key",
        "SMTP_HOST": "",
        "PYTHONUNBUFFERED": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "run", "--interval", "0.2"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, worker.kill)  # a hung worker fails the test, not the suite
    watchdog.start()
    try:
        first = worker.stdout.readline()
        delivered = worker.stdout.readline()  # printed once the receipt is out
        worker.send_signal(signal.SIGTERM)
        rest, _ = worker.communicate(timeout=30)
    finally:
        watchdog.cancel()
        worker.kill()
    assert first.strip() == f"outbox: delivering to files in {tmp_path / 'mail'}, every 0.2 s"
    assert delivered.strip() == "outbox: 1 sent, 0 to retry later, 0 failed for good"
    assert rest.strip().endswith("outbox: stopped")
    assert worker.returncode == 0
    [path] = (tmp_path / "mail").glob("*.eml")
    assert created["reference"] in path.read_text()


def test_a_citizen_can_submit_while_a_mail_server_is_slow_to_answer(app, client):
    """The worker does not hold SQLite's write lock while it sends: a submission made while
    the mail server is still talking goes straight through."""
    submit(client)
    during = []

    class SlowServer(RecordingTransport):
        def send(self, email):
            if not during:  # while the first mail is on its way
                response = client.post(
                    "/api/v1/tenants/kil/services/synpunkter/submissions", json=WITH_REPLY
                )
                during.append(response.status_code)
            super().send(email)

    report = deliver(app, SlowServer())
    assert during == [201]
    assert report.sent >= 1 and len(messages(app)) == 2
