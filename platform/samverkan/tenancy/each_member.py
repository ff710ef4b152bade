"""Maintenance that runs member by member (retention, draft expiry): each in a session of
its own bound to that member, so row-level security and the ORM criteria hold as for a
request, and one member's failure is recorded without stopping the others."""

from collections.abc import Callable
from typing import Any

import click
import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant


def each_member(
    engine: sa.Engine,
    member: str | None,
    outcome_for: Callable[[str], Any],
    work: Callable[[orm.Session, int, Any], None],
) -> list:
    """work(session, tenant_id, outcome) for every member by slug (or only `member`);
    the outcomes in that order, each with `.error` set if its work raised."""
    with orm.Session(engine) as session:
        query = sa.select(Tenant.id, Tenant.slug).order_by(Tenant.slug)
        if member is not None:
            query = query.where(Tenant.slug == member)
        members = session.execute(query).all()
    outcomes = []
    for tenant_id, slug in members:
        outcome = outcome_for(slug)
        with orm.Session(engine) as session:
            bind_tenant(session, tenant_id)
            try:
                work(session, tenant_id, outcome)
            except Exception as exc:  # one member's failure must not stop the others' run
                session.rollback()
                outcome.error = f"{type(exc).__name__}: {exc}"
        outcomes.append(outcome)
    return outcomes


def refuse_unknown_member(engine: sa.Engine, member: str | None) -> None:
    """A command's --member option names a member that exists, or the command stops."""
    if member is None:
        return
    with engine.connect() as connection:  # tenants are readable by the app's role
        known = connection.scalar(sa.select(Tenant.id).where(Tenant.slug == member))
    if known is None:
        raise click.ClickException(f"--member: there is no member '{member}'")
