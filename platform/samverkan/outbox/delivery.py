"""Delivering queued e-mail: claim one due message, lease it, send it, record what the
mail server said; repeat.

The worker connects as the application role, so row-level security applies to it as to a
request: it binds one member at a time and works through that member's due messages.
Any number of workers may run. A message is claimed with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (a second worker passes over it) and under `BEGIN IMMEDIATE` on SQLite (one
worker at a time), then leased and committed before the send: no lock is held while a mail
server talks, and no other worker takes the message until the lease runs out. A message
marked sent is never claimed again, and once the mail server has taken a message the worker
waits for a lost database to come back rather than forget that it did."""

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.db import utcnow
from samverkan.outbox.models import FAILED, PENDING, SENT, OutboxMessage
from samverkan.outbox.transports import Transport
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
MAX_ATTEMPTS = 10  # waits of 1, 2, 4 … 32 minutes, then hourly: about four hours
LEASE = timedelta(minutes=10)  # how long a claimed message is left to its worker
TURN = 20  # one member's messages at a time before the next member's turn
# While the database is away after a send: the first pause before writing again, the longest.
RECORD_PAUSE = 0.2
RECORD_LONGEST_PAUSE = 5.0


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed)

    def line(self) -> str:
        return (
            f"outbox: {self.sent} sent, {self.retrying} to retry later, "
            f"{self.failed} failed for good"
        )


def retry_delay(attempts: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """The wait after the given number of failed attempts: doubling, capped."""
    return min(first * 2 ** (attempts - 1), LONGEST_WAIT)


def message_id(tenant_id: int, event_key: str, sender: str) -> str:
    """A Message-ID made from the event, the same on every attempt. If a worker dies after
    the server took the mail but before its commit, the next worker sends it again; the
    same Message-ID lets the receiving side recognise and drop the copy."""
    digest = hashlib.sha256(f"{tenant_id}:{event_key}".encode()).hexdigest()[:32]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "samverkan.invalid"
    return f"<outbox.{digest}@{domain}>"


def sender_address(sender: str) -> Address:
    """MAIL_FROM as an address ("Name <box@domain>" or "box@domain"); ValueError if not one."""
    name, address = parseaddr(sender)
    if "@" not in address:
        raise ValueError(f"MAIL_FROM '{sender}' is not an e-mail address")
    return Address(display_name=name, addr_spec=address)


def compose(message: OutboxMessage, sender: str) -> EmailMessage:
    """The e-mail for a queued row. Raises ValueError or MessageError for an address that
    cannot be written into a header."""
    email = EmailMessage()
    email["From"] = sender_address(sender)
    email["To"] = Address(addr_spec=message.recipient)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = message_id(message.tenant_id, message.event_key, sender)
    # RFC 3834: a machine sent this, so out-of-office replies stay away.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body)  # first: it clears every Content- header
    if message.language:  # RFC 3282: what a mail reader, or one reading aloud, should expect
        email["Content-Language"] = message.language
    return email


def _describe(exc: Exception, secrets: tuple[str, ...]) -> str:
    """What went wrong, for `last_error`: the error's type and text, never a password."""
    text = f"{type(exc).__name__}: {exc}"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"\s+", " ", text)[:500]


def deliver_due(
    engine: sa.Engine,
    transport: Transport,
    sender: str,
    *,
    now: datetime | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    first_retry: timedelta = FIRST_RETRY,
) -> DeliveryReport:
    """Send every message that is due, member by member: at most TURN of one member's
    before the next member's turn, round after round until nothing due is left, so a busy
    member on a deadline day never keeps the others' receipts waiting. `now` fixes the
    clock (tests); `should_stop` is asked between messages; `first_retry` is the first
    wait after a refusal (it doubles from there)."""
    report = DeliveryReport()
    with orm.Session(engine) as session:
        tenant_ids = session.scalars(sa.select(Tenant.id).order_by(Tenant.id)).all()
    more = True
    while more and not should_stop():
        more = False
        for tenant_id in tenant_ids:
            with orm.Session(engine) as session:
                bind_tenant(session, tenant_id)
                for _ in range(TURN):
                    if should_stop():
                        return report
                    outcome = _deliver_one(
                        session, transport, sender, now or utcnow(), first_retry, should_stop
                    )
                    if outcome is None:
                        break
                    setattr(report, outcome, getattr(report, outcome) + 1)
                else:
                    more = True  # the turn ended with mail still due: another round
    return report


def _begin(session: orm.Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        # Take the write lock before reading, so two workers never claim the same row.
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def _deliver_one(
    session: orm.Session,
    transport: Transport,
    sender: str,
    now: datetime,
    first_retry: timedelta,
    should_stop: Callable[[], bool],
) -> str | None:
    """Claim the member's next due message and try it. Returns which count it adds to, or
    None when nothing is due."""
    _begin(session)
    message = session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if message is None:
        session.rollback()
        return None
    message.attempts += 1
    try:
        email = compose(message, sender)
    except (ValueError, MessageError) as exc:  # a bad address never gets better: give up now
        message.status = FAILED
        message.last_error = _describe(exc, ())
        session.commit()
        return "failed"
    # Lease the message and commit before the mail server is involved: no lock is held
    # while it talks (SQLite has one for the whole database), no other worker takes the
    # message until the lease runs out, and a database lost after the send cannot make
    # this worker send it again.
    claimed, attempts = message.id, message.attempts
    message.next_attempt_at = now + LEASE
    session.commit()
    try:
        transport.send(email)
    except Exception as exc:  # whatever the transport raises, the message waits and retries
        outcome = {"last_error": _describe(exc, (getattr(transport, "password", ""),))}
        if attempts >= MAX_ATTEMPTS:
            outcome["status"] = FAILED
        else:
            outcome["next_attempt_at"] = now + retry_delay(attempts, first_retry)
    else:
        outcome = {"status": SENT, "sent_at": now}
    _record(session, claimed, outcome, should_stop)
    return {SENT: "sent", FAILED: "failed"}.get(outcome.get("status"), "retrying")


def _record(
    session: orm.Session, claimed: int, outcome: dict, should_stop: Callable[[], bool]
) -> None:
    """Write down what the mail server said. It has already said it, so a database that is
    gone (restarting, connections cut) is waited for rather than forgotten: forgetting a
    sent mail would send it twice. Only a stop gives up; the lease then runs out and the
    message goes again, with the same Message-ID."""
    pause = RECORD_PAUSE
    while True:
        try:
            _begin(session)
            session.execute(
                sa.update(OutboxMessage).where(OutboxMessage.id == claimed).values(**outcome)
            )
            session.commit()
            return
        except sa.exc.DBAPIError as exc:
            session.rollback()
            if should_stop():
                raise
            logger.warning(
                "outbox: database unavailable, keeping message %s: %s", claimed, exc.orig
            )
            time.sleep(pause)
            pause = min(pause * 2, RECORD_LONGEST_PAUSE)
