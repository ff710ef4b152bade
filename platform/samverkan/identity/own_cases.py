"""Mina ärenden: the one path a citizen's request reads across members by.

It returns only the signed-in person's own cases, three times over: the statement asks for
their person_key, the ORM criteria (tenancy/scoping.py bind_person) add it and refuse any
other member table, and on PostgreSQL the own_cases_of_person policy lets the application
role see no other row. Every member whose cases were shown gets an entry in its audit log
saying which, and for which (pseudonymous) person.
"""

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.audit.operations import record
from samverkan.cases.models import Case
from samverkan.catalogue.models import ServiceDefinition
from samverkan.identity.models import CitizenSession
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_person, bind_tenant, bound_tenant_id, unbind_tenant

ACTOR = "den sökande (e-legitimation)"
MOST = 1000  # a person with more cases than this sees the latest ones


@dataclass(frozen=True)
class OwnCase:
    reference: str
    service_title: dict
    member_name: str
    member_slug: str
    status: str
    submitted_at: datetime
    updated_at: datetime
    status_token: str


def own_cases(session: orm.Session, person: CitizenSession) -> list[OwnCase]:
    """The person's cases in every member, the latest change first; audited per member.
    The caller commits (the audit entries go with the request)."""
    if bound_tenant_id(session) is not None:
        raise RuntimeError("Mina ärenden reads across members: no member may be bound")
    bind_person(session, person.person_key)
    rows = session.execute(
        sa.select(
            Case.tenant_id,
            Case.reference,
            Case.status,
            Case.submitted_at,
            Case.updated_at,
            Case.status_token,
            ServiceDefinition.content["title"].label("title"),
            Tenant.name,
            Tenant.slug,
        )
        .join(ServiceDefinition, ServiceDefinition.id == Case.definition_id)
        .join(Tenant, Tenant.id == Case.tenant_id)
        .where(Case.person_key == person.person_key, Case.thinned_at.is_(None))
        .order_by(Case.updated_at.desc(), Case.id.desc())
        .limit(MOST)
    ).all()
    by_member = sorted(rows, key=lambda row: row.tenant_id)
    for tenant_id, shown in groupby(by_member, key=lambda row: row.tenant_id):
        bind_tenant(session, tenant_id)
        # Named by the sign-in, not the person: the person key is what links a case to
        # someone's personnummer, and retention removes it from the case; a piece of it
        # kept in the append-only log would keep that link after the case is thinned.
        record(
            session,
            "citizen.own_cases",
            "sign_in",
            person.digest[:16],
            {"cases": [row.reference for row in shown]},
            actor=ACTOR,
        )
        session.flush()
    unbind_tenant(session)
    return [
        OwnCase(
            reference=row.reference,
            service_title=row.title,
            member_name=row.name,
            member_slug=row.slug,
            status=row.status,
            submitted_at=row.submitted_at,
            updated_at=row.updated_at,
            status_token=row.status_token,
        )
        for row in rows
    ]
