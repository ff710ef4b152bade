"""Delivering queued e-mail: claim one due message, send it, mark it, commit; repeat.

The worker connects as the application role, so row-level security applies to it as to a
request: it binds one member at a time and works through that member's due messages.
Any number of workers may run. On PostgreSQL a message is claimed with
`FOR UPDATE SKIP LOCKED`, so a second worker passes over it to the next one; on SQLite
each claim runs under `BEGIN IMMEDIATE`, which lets one worker at a time in, and leases
the message for the send (the lock is not held while a mail server talks; citizens'
submissions need it). A message marked sent is never claimed again.
"""

import hashlib
import re
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

FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
MAX_ATTEMPTS = 10  # waits of 1, 2, 4 … 32 minutes, then hourly: about four hours
LEASE = timedelta(minutes=10)  # SQLite: how long a claimed message is left to its worker


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


def retry_delay(attempts: int) -> timedelta:
    """The wait after the given number of failed attempts: doubling, capped."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_WAIT)


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
    email.set_content(message.body)
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
) -> DeliveryReport:
    """Send every message that is due, member by member, one transaction per message.
    `now` fixes the clock (tests); `should_stop` is asked between messages."""
    report = DeliveryReport()
    with orm.Session(engine) as session:
        tenant_ids = session.scalars(sa.select(Tenant.id).order_by(Tenant.id)).all()
    for tenant_id in tenant_ids:
        with orm.Session(engine) as session:
            bind_tenant(session, tenant_id)
            while not should_stop():
                outcome = _deliver_one(session, transport, sender, now or utcnow())
                if outcome is None:
                    break
                setattr(report, outcome, getattr(report, outcome) + 1)
        if should_stop():
            break
    return report


def _deliver_one(
    session: orm.Session, transport: Transport, sender: str, now: datetime
) -> str | None:
    """Claim the member's next due message and try it. Returns which count it adds to, or
    None when nothing is due."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Take the write lock before reading, so two workers never claim the same row.
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
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
    if sqlite:
        # SQLite has one write lock for the whole database: never hold it while a mail
        # server talks. Lease the message instead (no other worker takes it until the lease
        # runs out), let go of the lock, send, then take the lock again to mark it.
        message.next_attempt_at = now + LEASE
        session.commit()
    try:
        transport.send(email)
    except Exception as exc:  # whatever the transport raises, the message waits and retries
        if sqlite:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        message.last_error = _describe(exc, (getattr(transport, "password", ""),))
        if message.attempts >= MAX_ATTEMPTS:
            message.status = FAILED
            outcome = "failed"
        else:
            message.next_attempt_at = now + retry_delay(message.attempts)
            outcome = "retrying"
    else:
        if sqlite:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        message.status = SENT
        message.sent_at = now
        outcome = "sent"
    session.commit()
    return outcome
