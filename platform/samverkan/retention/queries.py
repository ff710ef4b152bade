"""What retention reads: the closed cases of the bound member that are still whole, by
e-service, and which of them a period has passed."""

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.cases import status
from samverkan.cases.models import Case, CaseEvent
from samverkan.outbox.models import PENDING, OutboxMessage

# Closed, and not thinned yet. Open cases never match: they have no closed_at.
_WHOLE_AND_CLOSED = (
    Case.status == status.CLOSED,
    Case.closed_at.is_not(None),
    Case.thinned_at.is_(None),
)


def ended_at(left_at: datetime | None):
    """When a case's retention period starts: when it was closed; at a member that has
    left (`left_at`, its leaving), a case still open then counts as ended with it, since
    it can no longer be closed (the member's cases are read-only)."""
    if left_at is None:
        return Case.closed_at
    return sa.func.coalesce(Case.closed_at, sa.bindparam("left_at", left_at, Case.closed_at.type))


def _whole_and_ended(left_at: datetime | None) -> tuple:
    return _WHOLE_AND_CLOSED if left_at is None else (Case.thinned_at.is_(None),)


def services_with_closed_cases(
    session: orm.Session, left_at: datetime | None = None
) -> dict[str, int]:
    """{service slug: closed (or, at a member that has left, ended) cases not yet thinned}
    for the bound member."""
    rows = session.execute(
        sa.select(Case.service_slug, sa.func.count(Case.id))
        .where(*_whole_and_ended(left_at))
        .group_by(Case.service_slug)
        .order_by(Case.service_slug)
    ).all()
    return dict(rows)


def due_cases(
    session: orm.Session,
    service_slug: str,
    cutoff: datetime,
    *,
    after: tuple[datetime, int] | None = None,
    limit: int = 200,
    lock: bool = False,
    left_at: datetime | None = None,
) -> list[Case]:
    """The member's closed cases of one e-service closed before `cutoff` (ended: see
    ended_at), oldest first, from after (ended, id). `lock` holds their rows until the
    transaction ends."""
    ended = ended_at(left_at)
    query = (
        sa.select(Case)
        .where(*_whole_and_ended(left_at), Case.service_slug == service_slug, ended < cutoff)
        .order_by(ended, Case.id)
        .limit(limit)
        # Thinning needs neither the definition nor the answers it is about to remove.
        .options(
            orm.lazyload(Case.definition), orm.lazyload(Case.assigned_to), orm.defer(Case.answers)
        )
    )
    if after is not None:
        query = query.where(sa.tuple_(ended, Case.id) > after)
    if lock:
        query = query.with_for_update(of=Case)
    return list(session.scalars(query).unique())


def case_mail_keys(session: orm.Session, cases: list[Case]) -> dict[str, str]:
    """{event key: reference} of every e-mail the cases can have caused, as outbox/mails.py
    names them: "case:<reference>:received" and "case:<reference>:event:<event id>".
    Exact keys, found through the outbox's unique index; a prefix search (LIKE) cannot use
    an index under row-level security and scanned the member's whole outbox per batch."""
    keys = {f"case:{case.reference}:received": case.reference for case in cases}
    references = {case.id: case.reference for case in cases}
    events = session.execute(
        sa.select(CaseEvent.case_id, CaseEvent.id).where(CaseEvent.case_id.in_(references))
    )
    for case_id, event_id in events:
        keys[f"case:{references[case_id]}:event:{event_id}"] = references[case_id]
    return keys


def references_with_mail_waiting(session: orm.Session) -> set[str]:
    """The references of the bound member's cases with an e-mail still queued. Few rows,
    read through the outbox's own index on (tenant_id, status, …)."""
    keys = session.scalars(
        sa.select(OutboxMessage.event_key).where(OutboxMessage.status == PENDING)
    )
    return {key.split(":")[1] for key in keys if key.startswith("case:") and key.count(":") >= 2}


def token_digest(token: str) -> str:
    """What a thinned case keeps of its status link: enough to recognise the old link and
    say the case was thinned, never enough to open anything (64 hex characters, while a
    live token is 43, so the two can never be mistaken for each other)."""
    return hashlib.sha256(token.encode()).hexdigest()


def find_thinned_by_token(session: orm.Session, token: str) -> Case | None:
    """The thinned case an old status link pointed at, if any."""
    if not token or len(token) > 64:
        return None
    return session.scalar(
        sa.select(Case).where(
            Case.status_token == token_digest(token), Case.thinned_at.is_not(None)
        )
    )
