from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.db import Base, TenantScoped, Timestamp, utcnow


class AuditEntry(TenantScoped, Base):
    """One thing someone did: append-only. The application role may only INSERT and
    SELECT (PostgreSQL grants; triggers on SQLite), and the ORM refuses changes too."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "id"),
        sa.Index("ix_audit_log_tenant_at", "tenant_id", "at", "id"),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    # Who: the user's id and, kept as text, who they were then (an account may go later).
    actor_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("users.id"))
    actor: orm.Mapped[str] = orm.mapped_column(sa.String(254))
    address: orm.Mapped[str | None] = orm.mapped_column(sa.String(45))
    action: orm.Mapped[str] = orm.mapped_column(sa.String(40))
    object_type: orm.Mapped[str] = orm.mapped_column(sa.String(40))
    object_ref: orm.Mapped[str] = orm.mapped_column(sa.String(120))
    detail: orm.Mapped[dict[str, Any]] = orm.mapped_column(sa.JSON, default=dict)
