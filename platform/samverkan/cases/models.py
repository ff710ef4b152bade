from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.db import Base, TenantScoped, Timestamp, utcnow


class ReferenceCounter(TenantScoped, Base):
    """The last number used in a member's series for one year (gapless, see operations)."""

    __tablename__ = "reference_counters"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "year"),)

    year: orm.Mapped[int]
    last_number: orm.Mapped[int] = orm.mapped_column(default=0)


class Case(TenantScoped, Base):
    """A received submission (ärende), registered under the member's own reference."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "reference"),
        sa.UniqueConstraint("tenant_id", "year", "number"),
        sa.UniqueConstraint("tenant_id", "status_token"),
        sa.UniqueConstraint("tenant_id", "idempotency_key"),
        # A case can only be assigned to someone who works at its member.
        sa.ForeignKeyConstraint(
            ["tenant_id", "assigned_to_id"], ["memberships.tenant_id", "memberships.user_id"]
        ),
        # The inbox pages newest first with a (submitted_at, id) cursor, optionally by status
        # or e-service: each filter has an index that serves it in order.
        sa.Index("ix_cases_tenant_submitted", "tenant_id", "submitted_at", "id"),
        sa.Index("ix_cases_tenant_status_submitted", "tenant_id", "status", "submitted_at", "id"),
        sa.Index(
            "ix_cases_tenant_service_submitted", "tenant_id", "service_slug", "submitted_at", "id"
        ),
        # The few a citizen has answered and nobody has opened since ("Ny komplettering").
        sa.Index(
            "ix_cases_tenant_unread_completion",
            "tenant_id",
            "submitted_at",
            "id",
            postgresql_where=sa.text("unread_completion_at IS NOT NULL"),
            sqlite_where=sa.text("unread_completion_at IS NOT NULL"),
        ),
        # Retention looks for closed cases not yet thinned, per e-service, oldest first.
        sa.Index(
            "ix_cases_tenant_due_for_thinning",
            "tenant_id",
            "service_slug",
            "closed_at",
            postgresql_where=sa.text("closed_at IS NOT NULL AND thinned_at IS NULL"),
            sqlite_where=sa.text("closed_at IS NOT NULL AND thinned_at IS NULL"),
        ),
        # Mina ärenden: a signed-in person's cases in every member (identity/own_cases.py).
        sa.Index(
            "ix_cases_person",
            "person_key",
            postgresql_where=sa.text("person_key IS NOT NULL"),
            sqlite_where=sa.text("person_key IS NOT NULL"),
        ),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    reference: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    year: orm.Mapped[int]
    number: orm.Mapped[int]
    service_slug: orm.Mapped[str] = orm.mapped_column(sa.String(60))
    definition_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("service_definitions.id"))
    answers: orm.Mapped[dict[str, Any]] = orm.mapped_column(sa.JSON)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30))
    channel: orm.Mapped[str] = orm.mapped_column(sa.String(10))
    status_token: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    # The client's key (up to 200 characters) with its channel in front: "api:…", "web:…".
    idempotency_key: orm.Mapped[str | None] = orm.mapped_column(sa.String(210))
    request_fingerprint: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    submitted_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    updated_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    assigned_to_id: orm.Mapped[int | None]
    closed_at: orm.Mapped[datetime | None] = orm.mapped_column(Timestamp)
    # Set when retention removed the personal data; the row stays so the series, the
    # statistics and the cost-sharing counts stay as they were (samverkan.retention).
    thinned_at: orm.Mapped[datetime | None] = orm.mapped_column(Timestamp)
    # Who sent it, when they had signed in with e-ID: a keyed digest of their identity
    # (identity/persons.py), never the personnummer itself. Thinning clears it.
    person_key: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    # The language it was sent in (i18n.LANGUAGES): its receipt's, and that of every later
    # mail to the citizen about it. Null for cases from before it was recorded (Swedish).
    language: orm.Mapped[str | None] = orm.mapped_column(sa.String(2))
    # When the citizen's latest completion came in, until a case worker opens the case or
    # moves it on: the inbox marks such cases (casework/operations.py).
    unread_completion_at: orm.Mapped[datetime | None] = orm.mapped_column(Timestamp)

    definition = orm.relationship("ServiceDefinition", lazy="joined")
    assigned_to = orm.relationship(
        "User",
        primaryjoin="foreign(Case.assigned_to_id) == User.id",
        lazy="joined",
        viewonly=True,
    )
    # Read-only: events and attachments are written with explicit (tenant_id, case_id).
    events: orm.Mapped[list["CaseEvent"]] = orm.relationship(
        primaryjoin="and_(Case.tenant_id == foreign(CaseEvent.tenant_id), "
        "Case.id == foreign(CaseEvent.case_id))",
        order_by="CaseEvent.id",
        viewonly=True,
    )
    attachments: orm.Mapped[list["Attachment"]] = orm.relationship(
        primaryjoin="and_(Case.tenant_id == foreign(Attachment.tenant_id), "
        "Case.id == foreign(Attachment.case_id))",
        order_by="Attachment.id",
        viewonly=True,
    )

    def answer_files(self) -> dict[str, "Attachment"]:
        """The answers' files by their field, without those sent later with a completion."""
        return {a.field_name: a for a in self.attachments if a.event_id is None}

    def files_by_event(self) -> dict[int, list["Attachment"]]:
        """The files sent later (with a completion), by the history entry they came with."""
        sent: dict[int, list[Attachment]] = {}
        for attachment in self.attachments:
            if attachment.event_id is not None:
                sent.setdefault(attachment.event_id, []).append(attachment)
        return sent


class CaseEvent(TenantScoped, Base):
    """One line of a case's history: submitted, status changed, assigned, a message to the
    citizen, or an internal note (visible_to_citizen false: never on the status page)."""

    __tablename__ = "case_events"
    __table_args__ = (
        # For the files sent with an entry: theirs is of the same member and case. Its
        # index also serves reading a case's history (tenant_id, case_id first).
        sa.UniqueConstraint("tenant_id", "case_id", "id"),
        sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        # Row-level security on users reads the history's authors (migration 0011).
        sa.Index(
            "ix_case_events_author",
            "tenant_id",
            "author_id",
            postgresql_where=sa.text("author_id IS NOT NULL"),
            sqlite_where=sa.text("author_id IS NOT NULL"),
        ),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    case_id: orm.Mapped[int]
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(30))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30))
    message: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    visible_to_citizen: orm.Mapped[bool] = orm.mapped_column(default=True)
    author_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("users.id"))
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)

    author = orm.relationship("User", lazy="joined")


# The field name of the files a citizen sends with a completion. A form field of the same
# name is told apart by event_id (Case.answer_files).
COMPLETION_FILES = "completion"


class Attachment(TenantScoped, Base):
    """A file that came with a case, as the answer to one of its form's file fields, or
    later with the citizen's completion (`event_id`, field_name COMPLETION_FILES); the
    bytes live outside the web root."""

    __tablename__ = "attachments"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id", "event_id"],
            ["case_events.tenant_id", "case_events.case_id", "case_events.id"],
        ),
        sa.Index("ix_attachments_tenant_case", "tenant_id", "case_id"),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    case_id: orm.Mapped[int]
    # The history entry it was sent with; None for the answers' files.
    event_id: orm.Mapped[int | None]
    field_name: orm.Mapped[str] = orm.mapped_column(sa.String(60))
    filename: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    storage_name: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    content_type: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    size: orm.Mapped[int]
    sha256: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)


class Draft(TenantScoped, Base):
    """A form being filled in. Not a case: it has no reference until it is submitted."""

    __tablename__ = "drafts"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "id"),
        sa.Index("ix_drafts_tenant_expires", "tenant_id", "expires_at"),
        sa.Index("uq_drafts_tenant_resume_digest", "tenant_id", "resume_digest", unique=True),
    )

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    service_slug: orm.Mapped[str] = orm.mapped_column(sa.String(60))
    definition_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("service_definitions.id"))
    answers: orm.Mapped[dict[str, Any]] = orm.mapped_column(sa.JSON, default=dict)
    completed_steps: orm.Mapped[list[str]] = orm.mapped_column(sa.JSON, default=list)
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    updated_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    expires_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp)
    # The SHA-256 of the private resume link's token ("save and continue later"): the
    # token itself is only ever in the link, never stored.
    resume_digest: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
