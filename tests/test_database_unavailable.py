"""When the database cannot be reached: a clear 503 (a Swedish page, a JSON problem for the
API, Retry-After), never a stack trace; and the outbox worker, having handed a mail to the
server, waits for the database rather than forget it and send the mail twice. `make faults`
does the same against a real PostgreSQL; these run in `make test`."""

import email
import socket
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from api_support import WITH_REPLY

from samverkan import extensions, templating
from samverkan.database_roles import maintenance_session
from samverkan.db import utcnow
from samverkan.extensions import db
from samverkan.outbox import delivery
from samverkan.outbox.models import PENDING, SENT, OutboxMessage
from samverkan.tenancy.models import Tenant

SENDER = "Samverkan <no-reply@samverkan.invalid>"
UNAVAILABLE = "Tjänsten är tillfälligt otillgänglig"


def lost(*args, **kwargs):
    raise sa.exc.OperationalError(
        "SELECT 1", {}, Exception("terminating connection due to administrator command")
    )


@pytest.fixture
def database_away(monkeypatch):
    """Every ORM query of a request fails as it does while PostgreSQL restarts."""
    for name in ("execute", "scalar", "scalars", "get"):
        monkeypatch.setattr(db.session, name, lost)


def test_a_citizen_page_is_a_swedish_503_while_the_database_is_away(client, database_away):
    response = client.get("/arvika/e/synpunkter")
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["Cache-Control"] == "no-store"
    assert '<html lang="sv">' in page and f"<h1>{UNAVAILABLE}</h1>" in page
    assert "skicka det igen" in page  # what to do: sending again is safe
    assert "OperationalError" not in page and "Traceback" not in page


def test_the_503_page_asks_the_database_nothing_more(client, monkeypatch):
    """A worker that has not read the hub's slug yet must not wait out a second connection
    timeout for the page's footer: the request tried the database once."""
    tried = []

    def lost_and_counted(*args, **kwargs):
        tried.append(args)
        lost()

    for name in ("execute", "scalar", "scalars", "get"):
        monkeypatch.setattr(db.session, name, lost_and_counted)
    monkeypatch.setattr(templating._hub, "get", lambda key: None)  # a cold worker
    response = client.get("/")
    assert response.status_code == 503
    assert len(tried) == 1


def test_the_api_answers_a_json_503_naming_the_idempotency_key(client, database_away):
    response = client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions",
        json=WITH_REPLY,
        headers={"Idempotency-Key": "k-1"},
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    problem = response.get_json()
    assert problem["error"] == UNAVAILABLE
    assert "Idempotency-Key" in problem["message"]
    assert "administrator command" not in response.get_data(as_text=True)


def test_a_reading_api_client_is_told_to_try_again_without_a_word_of_keys(client, database_away):
    response = client.get(f"/api/v1/tenants/arvika/status/{'a' * 43}")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    problem = response.get_json()
    assert problem["error"] == UNAVAILABLE
    assert problem["message"] == "Databasen svarar inte just nu. Försök igen om en stund."


def test_a_database_error_that_is_a_bug_is_not_dressed_up_as_503(client, monkeypatch):
    def broken(*args, **kwargs):
        raise sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(db.session, "scalar", broken)
    with pytest.raises(sa.exc.IntegrityError):  # TESTING propagates what would be a 500
        client.get("/arvika/e/synpunkter")


def test_a_connection_that_dies_before_the_request_ends_is_dropped_quietly(
    app, client, monkeypatch
):
    """The rollback at the end of the request fails on a dead connection; the answer the
    view made still goes out, and the session is thrown away instead of pooled."""
    real_remove = db.session.remove
    calls = []

    def remove_once_on_a_dead_connection():
        calls.append(1)
        if len(calls) == 1:
            lost()
        real_remove()

    monkeypatch.setattr(db.session, "remove", remove_once_on_a_dead_connection)
    response = client.get("/arvika/e/synpunkter")
    assert response.status_code == 200
    assert len(calls) >= 2


# -- the outbox: a send the database did not hear about ------------------------------------


def queue_one(app) -> None:
    with app.app_context(), maintenance_session() as session:
        arvika = session.scalar(sa.select(Tenant.id).where(Tenant.slug == "arvika"))
        session.add(
            OutboxMessage(
                tenant_id=arvika,
                event_key="test:database-lost",
                recipient="person@exempel.se",
                subject="Kvitto",
                body="Hej!",
            )
        )
        session.commit()


def the_message(app) -> OutboxMessage:
    with app.app_context(), maintenance_session() as session:
        message = session.scalar(sa.select(OutboxMessage))
        session.expunge(message)
        return message


class ServerThenLostDatabase:
    """Takes every mail; right after the first, the database stops answering `times`
    times (what the worker sees when PostgreSQL restarts just then)."""

    def __init__(self, monkeypatch, times: int):
        self.sent: list[email.message.EmailMessage] = []
        self.refusals_left = 0
        begin = delivery._begin

        def begin_unless_lost(session):
            if self.refusals_left:
                self.refusals_left -= 1
                lost()
            begin(session)

        monkeypatch.setattr(delivery, "_begin", begin_unless_lost)
        monkeypatch.setattr(delivery, "RECORD_PAUSE", 0.01)
        self.times = times

    def describe(self) -> str:
        return "a test server"

    def send(self, message) -> None:
        if not self.sent:
            self.refusals_left = self.times
        self.sent.append(message)


def test_a_mail_sent_while_the_database_went_away_is_recorded_once_it_is_back(app, monkeypatch):
    queue_one(app)
    server = ServerThenLostDatabase(monkeypatch, times=3)
    with app.app_context():
        report = delivery.deliver_due(db.engine, server, SENDER)
        again = delivery.deliver_due(db.engine, server, SENDER, now=utcnow() + timedelta(days=1))
    assert report.sent == 1 and not again
    assert len(server.sent) == 1
    message = the_message(app)
    assert message.status == SENT and message.attempts == 1


def test_a_worker_stopped_while_the_database_is_away_leaves_the_mail_leased(app, monkeypatch):
    """Stopping gives up waiting: the lease keeps other workers off the message until it
    runs out; then it goes again, with the same Message-ID for the receiver to drop."""
    queue_one(app)
    server = ServerThenLostDatabase(monkeypatch, times=1)
    start = utcnow()
    with app.app_context(), pytest.raises(sa.exc.OperationalError):
        delivery.deliver_due(
            db.engine, server, SENDER, now=start, should_stop=lambda: bool(server.sent)
        )
    leased = the_message(app)
    assert leased.status == PENDING and leased.next_attempt_at == start + delivery.LEASE
    with app.app_context():
        assert not delivery.deliver_due(db.engine, server, SENDER, now=start + timedelta(minutes=1))
        later = delivery.deliver_due(db.engine, server, SENDER, now=start + delivery.LEASE)
    assert later.sent == 1
    first, second = server.sent
    assert first["Message-ID"] == second["Message-ID"]


def test_a_postgresql_server_that_never_answers_is_given_up_on_in_seconds(monkeypatch):
    """Not psycopg's 130 s: the request gets its 503 before gunicorn kills the worker."""
    monkeypatch.setattr(extensions, "CONNECT_TIMEOUT", 1)
    with socket.socket() as silent:  # accepts the connection, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        engine = sa.create_engine(
            f"postgresql+psycopg://nobody@127.0.0.1:{silent.getsockname()[1]}/none"
        )
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="timeout"):
            engine.connect()
        engine.dispose()
    assert time.monotonic() - started < 10


def test_readyz_asks_again_on_a_new_connection_when_the_pooled_one_was_dead(client, monkeypatch):
    """After a restart the first use of each pooled connection fails; the database itself
    answers, so the load balancer must not take this server out of rotation."""
    real_execute = db.session.execute
    calls = []

    def dead_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError(
                "SELECT 1",
                {},
                Exception("server closed the connection"),
                connection_invalidated=True,
            )
        return real_execute(*args, **kwargs)

    monkeypatch.setattr(db.session, "execute", dead_once)
    response = client.get("/readyz")
    assert response.status_code == 200 and len(calls) == 2
