"""The one named path across members. The hub's pages, the cost allocation and the contact
centre read (and, for onboarding, write) more than one member's data; they do it only
through `across_members`, which opens an owner session over every member and writes an
entry in the hub's audit log — and, with `member`, in that member's own log too — saying
who did it and why. Nothing else in a request path reads across members.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user
from sqlalchemy import event, orm

from samverkan.audit.operations import HUB_LOG, record
from samverkan.database_roles import maintenance_session
from samverkan.tenancy.models import Tenant


def hub_tenant(session: orm.Session) -> Tenant:
    return session.scalar(sa.select(Tenant).where(Tenant.is_hub.is_(True)))


@contextmanager
def across_members(
    purpose: str,
    object_ref: str,
    *,
    member: Tenant | None = None,
    detail: dict | None = None,
    actor: str | None = None,
    logged_at_commit: bool = False,
) -> Iterator[orm.Session]:
    """An owner session over every member, audited as `purpose` (an audit action). The
    caller commits: the audit entries go with its work, or with nothing if it fails.

    A purpose that only reads (READS) has its entries committed first, in a short
    transaction of their own, and then reads without holding SQLite's write lock, so a long
    look across members never keeps citizens' submissions waiting. With `logged_at_commit`
    the entries are written as the caller commits, with `detail` as it is then: the
    caller adds what its work made (a cost run's number) to the same dict."""
    with maintenance_session() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite:
            # One writer at a time, as for a member's writing request (resolve.py); the
            # request's own session does not hold the lock on /hub/ paths.
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        who = {}
        if actor is not None:
            who = {"actor": actor}
        elif not (has_request_context() and current_user.is_authenticated):
            who = {"actor": "system"}
        hub = hub_tenant(session)
        # The hub's log is kept at the hub member, marked as the hub's: the hub member's
        # own administrators see only their member's entries (admin/log.py), the hub's
        # administrators the hub's (hub/log.py). A member concerned (the hub member too)
        # gets its own entry.
        object_type = "member" if member else "hub"

        def log(*_) -> None:
            record(
                session,
                purpose,
                object_type,
                object_ref,
                {**(detail or {}), HUB_LOG: True},
                tenant_id=hub.id,
                **who,
            )
            if member is not None:
                record(
                    session, purpose, object_type, object_ref, detail, tenant_id=member.id, **who
                )

        if logged_at_commit and purpose not in READS:
            event.listen(session, "before_commit", log, once=True)
        else:
            log()
        if purpose in READS:
            session.commit()  # logged before anything is read; the reads follow unlocked
        yield session


# Purposes that read only: logged up front, then read in an ordinary transaction.
READS = frozenset(
    {
        "hub.overview",
        "hub.member_viewed",
        "hub.versions_viewed",
        "contact.case_found",
        "contact.services_read",
        "costs.counted",
    }
)
