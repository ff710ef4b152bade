"""Expired drafts are deleted: every member (or one) in turn, with that member bound, so
row-level security holds the run to the member's own drafts as it holds a request.

A draft is not a case: deleting it touches no case, reference or counter. The files a
citizen uploaded into a draft are deleted from disk after the drafts' deletion commits
(a file a case's attachment names is never deleted). Running it again finds nothing more.
"""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from samverkan.cases.models import Attachment, Draft
from samverkan.catalogue.uploads import storage_names
from samverkan.tenancy.each_member import each_member

# A stored file's name as catalogue/uploads.py makes it: anything else is never unlinked.


@dataclass
class DraftsOutcome:
    slug: str
    deleted: int = 0
    files: int = 0
    error: str | None = None
    file_errors: list[str] = field(default_factory=list)


def expire_drafts(
    engine: sa.Engine,
    upload_root: Path,
    *,
    now: datetime,
    dry_run: bool,
    member: str | None = None,
) -> list[DraftsOutcome]:
    """Delete (or, dry, count) every draft whose expiry has passed at `now`."""
    return each_member(
        engine,
        member,
        DraftsOutcome,
        lambda session, tenant_id, outcome: _expire_member(
            session, tenant_id, outcome, upload_root, now, dry_run
        ),
    )


def _unattached(session, drafts) -> set:
    """The stored files of these drafts that no case's attachment uses."""
    files = set().union(*(storage_names(row.answers) for row in drafts)) if drafts else set()
    if files:  # a file that became a case's attachment stays with the case
        files -= set(
            session.scalars(
                sa.select(Attachment.storage_name).where(Attachment.storage_name.in_(files))
            )
        )
    return files


def _expire_member(session, tenant_id, outcome, upload_root, now, dry_run) -> None:
    if not dry_run and session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    if dry_run:
        expired = session.execute(
            sa.select(Draft.id, Draft.answers).where(Draft.expires_at <= now)
        ).all()
        outcome.deleted, outcome.files = len(expired), len(_unattached(session, expired))
        session.rollback()
        return
    # The files to remove are those of the drafts this statement deleted: a draft claimed
    # meanwhile by a submission is not among them, and its files become the case's.
    deleted = session.execute(
        sa.delete(Draft)
        .where(Draft.expires_at <= now)
        .returning(Draft.id, Draft.answers)
        .execution_options(synchronize_session=False)
    ).all()
    files = _unattached(session, deleted)
    session.commit()
    outcome.deleted = len(deleted)
    folder = upload_root / str(tenant_id)
    for name in sorted(files):  # only once the deletion is committed
        path = folder / name
        try:
            if path.exists():
                path.unlink()
                outcome.files += 1
        except OSError as exc:
            outcome.file_errors.append(f"{path}: {exc.strerror or exc}")
