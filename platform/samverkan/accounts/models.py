from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy import orm

from samverkan.db import Base, TenantScoped, Timestamp, utcnow

TENANT_ADMIN = "tenant_admin"
CASE_WORKER = "case_worker"
ROLES = {
    TENANT_ADMIN: "Administratör",
    CASE_WORKER: "Handläggare",
}


class User(UserMixin, Base):
    """A person who works in the platform. Which members they work for, and as what, is in
    their memberships: the account itself belongs to no member."""

    __tablename__ = "users"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    email: orm.Mapped[str] = orm.mapped_column(sa.String(254), unique=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(120))
    password_hash: orm.Mapped[str | None] = orm.mapped_column(sa.String(256))
    active: orm.Mapped[bool] = orm.mapped_column(default=True)
    # Raised to end every existing session of the user (sign-out, deactivation).
    session_version: orm.Mapped[int] = orm.mapped_column(default=1)
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)

    def get_id(self) -> str:
        """What the session keeps: the id and the session version it was signed in under."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.active


class Membership(TenantScoped, Base):
    """A user's role at one member."""

    __tablename__ = "memberships"
    __table_args__ = (
        sa.PrimaryKeyConstraint("tenant_id", "user_id"),
        sa.CheckConstraint("role IN ('tenant_admin', 'case_worker')", name="known_role"),
    )

    user_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("users.id"))
    role: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
