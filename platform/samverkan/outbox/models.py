from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.db import Base, TenantScoped, Timestamp, utcnow

PENDING = "pending"
SENT = "sent"
FAILED = "failed"  # gave up after the last retry; an operator can look and requeue


class OutboxMessage(TenantScoped, Base):
    """An e-mail waiting to go out, written with the change that causes it.

    `event_key` names the event (e.g. "case:ARV-2026-000001:event:7"); it is unique per
    member, so one event can never queue two e-mails.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "event_key"),
        sa.Index("ix_outbox_messages_due", "tenant_id", "status", "next_attempt_at"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="known_status"),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    event_key: orm.Mapped[str] = orm.mapped_column(sa.String(120))
    recipient: orm.Mapped[str] = orm.mapped_column(sa.String(254))
    subject: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    body: orm.Mapped[str] = orm.mapped_column(sa.Text)
    # What the mail is written in (i18n.LANGUAGES), sent as its Content-Language; null for
    # mails queued before it was recorded.
    language: orm.Mapped[str | None] = orm.mapped_column(sa.String(2))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(10), default=PENDING)
    attempts: orm.Mapped[int] = orm.mapped_column(default=0)
    next_attempt_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    last_error: orm.Mapped[str | None] = orm.mapped_column(sa.String(500))
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    sent_at: orm.Mapped[datetime | None] = orm.mapped_column(Timestamp)
