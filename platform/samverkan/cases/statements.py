"""The statements of a submission, in SQLAlchemy Core and built once per dialect.

A submission is the platform's busiest write, and the member's counter row is locked from
the moment its number is taken until the commit: every Python step in between holds up
the member's other submitters. So these few statements skip the ORM's unit of work and
are not rebuilt per request. The ORM's tenant criteria cannot reach Core statements:
each one here names `tenant_id` itself, takes it from `tenant_connection` (which refuses
when no member is bound, as the criteria do), and on PostgreSQL row-level security holds
as well (tests/test_tenancy.py and tests/test_row_level_security.py cover both). On PostgreSQL the
claim and the registering statement run on the driver's cursor (direct_sql.py).
"""

import functools

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from samverkan.cases.models import Case, CaseEvent, Draft, ReferenceCounter
from samverkan.catalogue.models import TenantService
from samverkan.outbox.models import PENDING, OutboxMessage
from samverkan.tenancy.models import Tenant


@functools.cache
def take_number(dialect_name: str) -> sa.Insert:
    """Increment and return the member's counter for the year, only while the member
    takes cases and the e-service is on in the answers' version (else no row)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return _take_number(dialect)


def _take_number(dialect) -> sa.Insert:
    counters, members, offers = (
        ReferenceCounter.__table__,
        Tenant.__table__,
        TenantService.__table__,
    )
    tenant_id = sa.bindparam("tenant_id", type_=sa.Integer)
    still_open = sa.and_(
        sa.exists().where(members.c.id == tenant_id, members.c.status == "active"),
        sa.exists().where(
            offers.c.tenant_id == tenant_id,
            offers.c.service_slug == sa.bindparam("service_slug", type_=sa.String),
            offers.c.definition_id == sa.bindparam("definition_id", type_=sa.Integer),
            offers.c.enabled.is_(True),
        ),
    )
    first = sa.select(
        tenant_id, sa.bindparam("year", type_=sa.Integer), sa.literal(1, sa.Integer)
    ).where(still_open)
    return (
        dialect.insert(counters)
        .from_select([counters.c.tenant_id, counters.c.year, counters.c.last_number], first)
        .on_conflict_do_update(
            index_elements=[counters.c.tenant_id, counters.c.year],
            set_={"last_number": counters.c.last_number + 1},
        )
        .returning(counters.c.last_number)
    )


@functools.cache
def claim_draft() -> sa.Delete:
    drafts = Draft.__table__
    return (
        sa.delete(drafts)
        .where(
            drafts.c.tenant_id == sa.bindparam("tenant_id"),
            drafts.c.id == sa.bindparam("draft_id"),
            drafts.c.service_slug == sa.bindparam("service_slug"),
        )
        .returning(
            drafts.c.id,
            drafts.c.definition_id,
            drafts.c.answers,
            drafts.c.completed_steps,
            drafts.c.expires_at,
        )
    )


# The columns a new case is given, each from the bind parameter of the same name.
CASE_VALUES = (
    "tenant_id",
    "year",
    "service_slug",
    "definition_id",
    "answers",
    "status",
    "channel",
    "status_token",
    "idempotency_key",
    "request_fingerprint",
    "submitted_at",
    "updated_at",
    "person_key",
    "language",
)
EVENT_VALUES = ("kind", "message", "visible_to_citizen")


@functools.cache
def register_case_postgresql() -> sa.Select:
    """PostgreSQL: number, case, its first history entry and its receipt in one statement,
    so the member's counter is locked for one round trip and the commit. Returns the
    case's id, number and reference, or no row when the member or e-service no longer
    takes cases. The receipt is queued when `receipt_to` is not null, its event key, subject
    and body written with `reference_mark` where the reference goes (outbox/mails.py). SQLite (one
    writer at a time anyway) takes the steps one by one."""
    cases, events = Case.__table__, CaseEvent.__table__
    number = _take_number(postgresql).cte("number")
    n = number.c.last_number
    padded = sa.case(
        (n > 999999, sa.cast(n, sa.Text)), else_=sa.func.lpad(sa.cast(n, sa.Text), 6, "0")
    )
    reference = (
        sa.bindparam("prefix", type_=sa.String)
        + "-"
        + sa.cast(sa.bindparam("year", type_=sa.Integer), sa.Text)
        + "-"
        + padded
    )
    new_values = [sa.bindparam(name, type_=cases.c[name].type) for name in CASE_VALUES]
    new_case = (
        sa.insert(cases)
        .from_select(
            [*CASE_VALUES, "number", "reference"],
            sa.select(*new_values, n, reference).select_from(number),
        )
        .returning(cases.c.id, cases.c.number, cases.c.reference)
        .cte("new_case")
    )
    history = (
        sa.insert(events)
        .from_select(
            ["tenant_id", "case_id", "status", "created_at", *EVENT_VALUES],
            sa.select(
                sa.bindparam("tenant_id", type_=sa.Integer),
                new_case.c.id,
                sa.bindparam("status", type_=events.c.status.type),
                sa.bindparam("submitted_at", type_=events.c.created_at.type),
                *(sa.bindparam(name, type_=events.c[name].type) for name in EVENT_VALUES),
            ).select_from(new_case),
        )
        .cte("history")
    )
    return (
        sa.select(new_case.c.id, new_case.c.number, new_case.c.reference)
        .add_cte(history)
        .add_cte(_receipt(new_case))
    )


def _receipt(new_case) -> sa.CTE:
    outbox = OutboxMessage.__table__
    recipient = sa.bindparam("receipt_to", type_=outbox.c.recipient.type)
    mark = sa.bindparam("reference_mark", type_=sa.Text)
    reference = new_case.c.reference
    submitted_at = sa.bindparam("submitted_at", type_=outbox.c.created_at.type)
    # The lengths enqueue() cuts them to (outbox/operations.py).
    event_key = sa.bindparam("receipt_event_key", type_=sa.Text)
    subject = sa.bindparam("receipt_subject", type_=sa.Text)
    body = sa.bindparam("receipt_body", type_=sa.Text)
    columns = {
        "tenant_id": sa.bindparam("tenant_id", type_=sa.Integer),
        "event_key": sa.func.left(sa.func.replace(event_key, mark, reference), 120),
        "recipient": recipient,
        "subject": sa.func.left(sa.func.replace(subject, mark, reference), 200),
        "body": sa.func.replace(body, mark, reference),
        "language": sa.bindparam("language", type_=outbox.c.language.type),  # the case's
        "status": sa.literal(PENDING),
        "attempts": sa.literal(0),
        "next_attempt_at": submitted_at,
        "created_at": submitted_at,
    }
    return (
        sa.insert(outbox)
        .from_select(
            list(columns),
            sa.select(*columns.values()).select_from(new_case).where(recipient.is_not(None)),
        )
        .cte("receipt")
    )


@functools.cache
def insert_case() -> sa.Insert:
    return sa.insert(Case.__table__).returning(Case.__table__.c.id)


@functools.cache
def insert_event() -> sa.Insert:
    return sa.insert(CaseEvent.__table__)
