from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import orm

from samverkan.db import Base, TenantScoped, Timestamp, utcnow

TENANT_ADMIN = "tenant_admin"
CASE_WORKER = "case_worker"
# Each role's name, worded where it is shown (the staff menu, the admin pages).
ROLES = {
    TENANT_ADMIN: _l("Administratör"),
    CASE_WORKER: _l("Handläggare"),
}
# Roles at the hub member only: the hub's administrators, and the citizen contact centre
# that serves every member.
HUB_ADMIN = "hub_admin"
CONTACT_CENTRE = "contact_centre"
HUB_ROLES = {
    HUB_ADMIN: _l("Navets administratör"),
    CONTACT_CENTRE: _l("Kontaktcenter"),
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
    # The optional second factor: a base32 TOTP secret, and the last time step accepted
    # (a code is never accepted twice).
    totp_secret: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    totp_last_step: orm.Mapped[int | None]
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
        sa.CheckConstraint(
            "role IN ('tenant_admin', 'case_worker', 'hub_admin', 'contact_centre')",
            name="known_role",
        ),
    )

    user_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("users.id"))
    role: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)


class Invitation(TenantScoped, Base):
    """An administrator's invitation to work at the member; the link carries the token,
    the database only its digest."""

    __tablename__ = "invitations"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("token_hash"),
        sa.CheckConstraint("role IN ('tenant_admin', 'case_worker')", name="known_role"),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    email: orm.Mapped[str] = orm.mapped_column(sa.String(254))
    name: orm.Mapped[str] = orm.mapped_column(sa.String(120))
    role: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    token_hash: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    invited_by_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("users.id"))
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    expires_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp)
    accepted_at: orm.Mapped[datetime | None] = orm.mapped_column(Timestamp)


class ApiToken(TenantScoped, Base):
    """A staff member's key to the JSON API at one member. Only its digest is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("token_hash"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["memberships.tenant_id", "memberships.user_id"]
        ),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    user_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("users.id"))
    label: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    token_hash: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    last_used_at: orm.Mapped[datetime | None] = orm.mapped_column(Timestamp)
    revoked_at: orm.Mapped[datetime | None] = orm.mapped_column(Timestamp)

    user: orm.Mapped[User] = orm.relationship(lazy="joined")
