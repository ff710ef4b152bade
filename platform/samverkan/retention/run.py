"""A retention run: every member (or one) in turn, with that member bound, so row-level
security holds the run to the member's own rows as it holds a request.

Each batch of cases is one transaction, and each case is thinned whole or not at all: a
failure rolls back its batch and leaves the cases before it thinned and those after it
untouched. A dry run reads the same cases and changes nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.clock import SWEDEN
from samverkan.retention import operations, queries
from samverkan.retention.periods import Period, months_before, period_for
from samverkan.tenancy.each_member import each_member
from samverkan.tenancy.models import Tenant

BATCH = 200  # cases per transaction: short enough that SQLite's write lock is let go often


@dataclass
class ServiceOutcome:
    service_slug: str
    period: Period
    thinned: list[str] = field(default_factory=list)
    # Closed cases past their period whose e-mail is still queued: thinned on a later run.
    postponed: list[str] = field(default_factory=list)
    # Closed cases still whole (no period set, or not yet passed).
    kept: int = 0


@dataclass
class MemberOutcome:
    slug: str
    services: list[ServiceOutcome] = field(default_factory=list)
    error: str | None = None
    # Files of committed thinnings that could not be deleted: named, for an operator.
    file_errors: list[str] = field(default_factory=list)

    @property
    def thinned(self) -> int:
        return sum(len(s.thinned) for s in self.services)


def run_retention(
    engine: sa.Engine,
    upload_root: Path,
    *,
    now: datetime,
    dry_run: bool,
    member: str | None = None,
    batch: int = BATCH,
) -> list[MemberOutcome]:
    """Thin (or, dry, list) every closed case whose period has passed at `now`."""
    return each_member(
        engine,
        member,
        MemberOutcome,
        lambda session, tenant_id, outcome: _run_member(
            session, tenant_id, outcome, upload_root, now, dry_run, batch
        ),
    )


def _begin(session: orm.Session, dry_run: bool) -> None:
    """Writing on SQLite: take the write lock before reading (as requests do)."""
    if not dry_run and session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def _remove_files(files: list[Path], outcome: MemberOutcome) -> None:
    """Delete the committed thinnings' files. Only after the commit: a rolled-back batch
    must find its files where they were."""
    for path in files:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            outcome.file_errors.append(f"{path}: {exc.strerror or exc}")


def member_left_at(tenant: Tenant) -> datetime | None:
    """When a member that has left (offboarded by the hub) left: the start of its leaving
    day in Swedish time; None for a member that has not."""
    if tenant.status != "closed" or tenant.left_on is None:
        return None
    return datetime.combine(tenant.left_on, time.min, tzinfo=SWEDEN)


def _run_member(session, tenant_id, outcome, upload_root, now, dry_run, batch) -> None:
    _begin(session, dry_run)
    tenant = session.get(Tenant, tenant_id)
    left_at = member_left_at(tenant)
    counts = queries.services_with_closed_cases(session, left_at)
    # Read up front: each batch's commit lets go of every object, the member's row too.
    periods = {service_slug: period_for(tenant, service_slug) for service_slug in counts}
    for service_slug, closed in counts.items():
        result = ServiceOutcome(service_slug, periods[service_slug])
        outcome.services.append(result)
        if not result.period.is_set:
            result.kept = closed
            continue
        cutoff = months_before(now, result.period.months)
        after = None
        while True:
            cases = queries.due_cases(
                session,
                service_slug,
                cutoff,
                after=after,
                limit=batch,
                lock=not dry_run,
                left_at=left_at,
            )
            if not cases:
                break
            after = (cases[-1].closed_at or left_at, cases[-1].id)
            waiting = queries.references_with_mail_waiting(session)
            due = [case for case in cases if case.reference not in waiting]
            result.postponed += [case.reference for case in cases if case.reference in waiting]
            references = [case.reference for case in due]
            if not dry_run and due:
                done = operations.thin_cases(
                    session, due, result.period, upload_root=upload_root, now=now, left_at=left_at
                )
                session.commit()
                session.expunge_all()  # the next batch reads afresh
                _remove_files([path for case in done for path in case.files], outcome)
                _begin(session, dry_run)
            # Only once committed: what the report says is done.
            result.thinned += references
        result.kept = closed - len(result.thinned) - len(result.postponed)
    session.rollback()  # a dry run wrote nothing; a real one has committed every batch
