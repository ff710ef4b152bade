"""Thinning one case: its personal data removed, its row kept.

What stays: the reference (the series stays gapless), year and number, e-service and
version, channel, status, the dates, who handled it, and the history's lines without their
text: so statistics, cost-sharing counts and the audit log still add up years later.
What goes: the answers, every message and internal note, the attachments (rows and files),
the e-mails queued about the case (they hold the citizen's address and the messages), the
idempotency key and the digest of the answers. The status link stops working; only a
digest of it is kept, so the old link can say that the case has been thinned.

Like every operation it flushes but never commits; the caller commits per batch and only
then deletes the files (ThinnedCase.files), so a batch that fails leaves every case, and
every file, as it was.
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


def thin_case(
    session: orm.Session, case: Case, period: Period, *, upload_root: Path, now: datetime
) -> ThinnedCase:
    """Remove the case's personal data from the database and log it as thinned (actor:
    system). Returns the attachment files, for the caller to delete once committed."""
    if case.status != status.CLOSED or case.thinned_at is not None:
        raise NotDue(f"{case.reference} is not a closed case that is still whole")
    if not period.is_set or not has_passed(case.closed_at, period.months, now):
        raise NotDue(f"{case.reference}: its retention period has not passed")
    done = ThinnedCase(case.reference)
    attachments = session.scalars(sa.select(Attachment).where(Attachment.case_id == case.id)).all()
    done.files = [uploads.path_of(upload_root, case.tenant_id, a) for a in attachments]
    done.attachments = len(attachments)
    for attachment in attachments:
        session.delete(attachment)
    done.mails = session.execute(
        sa.delete(OutboxMessage)
        .where(queries.case_mail_keys(case))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        sa.update(CaseEvent)
        .where(CaseEvent.case_id == case.id)
        .values(message=None)
        .execution_options(synchronize_session=False)
    )
    case.answers = {}
    case.idempotency_key = None
    case.request_fingerprint = None
    case.status_token = queries.token_digest(case.status_token)
    case.thinned_at = now
    record(
        session,
        "case.thinned",
        "case",
        case.reference,
        {
            "months": period.months,
            "rule": period.source,
            "closed_at": case.closed_at.isoformat(),
            "attachments": done.attachments,
            "mails": done.mails,
        },
        actor="system",
    )
    session.flush()
    return done
