"""Thinning cases: their personal data removed, their rows kept.

What stays: the reference (the series stays gapless), year and number, e-service and
version, channel, status, the dates, who handled it, and the history's lines without their
text: so statistics, cost-sharing counts and the audit log still add up years later.
What goes: the answers, every message and internal note, the attachments (rows and files),
the e-mails queued about the case (they hold the citizen's address and the messages), the
idempotency key, the digest of the answers and the link to the person who signed in to
send it (so it leaves their Mina ärenden). The status link stops working; only a
digest of it is kept, so the old link can say that the case has been thinned.

A batch of cases is thinned with a handful of statements, not a handful per case. Like
every operation it flushes but never commits; the caller commits per batch and only then
deletes the files (ThinnedCase.files), so a batch that fails leaves every case, and every
file, as it was.
"""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.audit.operations import record
from samverkan.cases import status
from samverkan.cases.models import Attachment, Case, CaseEvent
from samverkan.catalogue import uploads
from samverkan.outbox.models import OutboxMessage
from samverkan.retention import queries
from samverkan.retention.periods import Period, has_passed


class NotDue(ValueError):
    """A case that must not be thinned (still open, or its period has not passed): a bug
    in the caller, since the queries never offer one."""


@dataclass
class ThinnedCase:
    reference: str
    attachments: int = 0
    mails: int = 0
    files: list[Path] = field(default_factory=list)


def thin_cases(
    session: orm.Session,
    cases: list[Case],
    period: Period,
    *,
    upload_root: Path,
    now: datetime,
    left_at: datetime | None = None,
) -> list[ThinnedCase]:
    """Remove the cases' personal data from the database and log each as thinned (actor:
    system). Returns, per case, the attachment files for the caller to delete once the
    transaction is committed. At a member that has left (`left_at`), a case still open
    then counts as ended when the member left (queries.ended_at)."""
    for case in cases:
        closed = case.status == status.CLOSED and case.closed_at is not None
        if not (closed or left_at is not None) or case.thinned_at is not None:
            raise NotDue(f"{case.reference} is not a closed case that is still whole")
        ended = case.closed_at or left_at
        if not period.is_set or not has_passed(ended, period.months, now):
            raise NotDue(f"{case.reference}: its retention period has not passed")
    if not cases:
        return []
    ids = [case.id for case in cases]
    done = {case.id: ThinnedCase(case.reference) for case in cases}
    for attachment in session.scalars(sa.select(Attachment).where(Attachment.case_id.in_(ids))):
        done[attachment.case_id].attachments += 1
        done[attachment.case_id].files.append(
            uploads.path_of(upload_root, attachment.tenant_id, attachment)
        )
    _bulk(session, sa.delete(Attachment).where(Attachment.case_id.in_(ids)))
    by_reference = {case.reference: done[case.id] for case in cases}
    keys = queries.case_mail_keys(session, cases)
    mails = session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.event_key).where(
            OutboxMessage.event_key.in_(keys)
        )
    ).all()
    for _, event_key in mails:
        by_reference[keys[event_key]].mails += 1
    if mails:
        _bulk(session, sa.delete(OutboxMessage).where(OutboxMessage.id.in_([m.id for m in mails])))
    _bulk(session, sa.update(CaseEvent).where(CaseEvent.case_id.in_(ids)).values(message=None))
    for case in cases:
        case.answers = {}
        case.idempotency_key = None
        case.request_fingerprint = None
        case.person_key = None  # no longer in the person's Mina ärenden
        case.unread_completion_at = None
        case.status_token = queries.token_digest(case.status_token)
        case.thinned_at = now
        thinned = done[case.id]
        record(
            session,
            "case.thinned",
            "case",
            case.reference,
            {
                "months": period.months,
                "rule": period.source,
                "closed_at": (case.closed_at or left_at).isoformat(),
                **({} if case.closed_at else {"open_when_member_left": True}),
                "attachments": thinned.attachments,
                "mails": thinned.mails,
            },
            actor="system",
        )
    session.flush()
    return list(done.values())


def _bulk(session: orm.Session, statement) -> None:
    """An UPDATE or DELETE of many rows; the objects in the session are not refreshed, and
    need not be: the batch is committed and let go of right after."""
    session.execute(statement.execution_options(synchronize_session=False))
