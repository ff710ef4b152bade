"""The request's database session, made when the request first needs it.

A public page served from the worker's memory (citizen/page_cache.py) asks nothing of
the database, yet binding the member to the session used to make one, and closing it
again at the end: a few per cent of such a page's time. The member is now bound when the
session is made; resolve.py only says which member that is.
"""

import contextlib

import sqlalchemy as sa
from flask import g, has_app_context
from flask_sqlalchemy.session import Session
from sqlalchemy import orm

from samverkan import direct_sql
from samverkan.tenancy.scoping import (
    bind_tenant,
    bound_tenant_id,
    member_transaction,
    transaction_with_connection,
)

_MEMBER_FOR_SESSION = "_samverkan_member_for_session"


class RequestSession(Session):
    """Flask-SQLAlchemy's session, bound at its making to the member this app context
    resolved (bind_when_made), as if bind_tenant had been called on it then; so is one
    made again after db.session.remove() in the same request (the CSV export's)."""

    def __init__(self, db, **options) -> None:
        super().__init__(db, **options)
        tenant_id = g.get(_MEMBER_FOR_SESSION) if has_app_context() else None
        if tenant_id is not None:
            bind_tenant(self, tenant_id)


def bind_when_made(scoped: orm.scoped_session, tenant_id: int) -> None:
    """Bind the app context's session to the member: now if it exists, else when made."""
    setattr(g, _MEMBER_FOR_SESSION, tenant_id)
    if scoped.registry.has():
        bind_tenant(scoped, tenant_id)


def bound_member_id(scoped: orm.scoped_session) -> int | None:
    """The member the app context's session is bound to, or will be when made."""
    if scoped.registry.has():
        return bound_tenant_id(scoped())
    return g.get(_MEMBER_FOR_SESSION) if has_app_context() else None


def own_transaction(
    scoped: orm.scoped_session, engine: sa.Engine, tenant_id: int
) -> contextlib.AbstractContextManager[sa.Connection | None]:
    """The member's own transaction (scoping.member_transaction) for a request whose
    writes are all Core statements: on PostgreSQL, while the request's session has not
    begun one. Else (yields None) the session's: on SQLite a request that may write took
    its write lock in the session's transaction already (resolve.py), and a session that
    has begun keeps the request to one transaction."""
    if engine.dialect.name != "postgresql":
        return contextlib.nullcontext()
    if scoped.registry.has() and transaction_with_connection(scoped()) is not None:
        return contextlib.nullcontext()
    return member_transaction(engine, tenant_id)


def end_keeping_prepared_statements(scoped: orm.scoped_session) -> None:
    """At the end of a request on PostgreSQL: roll back the session's open transaction so
    that the driver keeps its prepared statements (direct_sql.rollback_keeping_prepared);
    the session is then closed as usual. Not with a savepoint open, which SQLAlchemy
    would then roll back on a connection with no transaction."""
    if not scoped.registry.has():
        return
    session = scoped()
    root = transaction_with_connection(session)
    if root is None or not root.is_active or session.get_nested_transaction():
        return  # a failed statement's transaction: the session's own close ends it
    connection = session.connection()
    if connection.dialect.name == "postgresql" and not connection.invalidated:
        direct_sql.rollback_keeping_prepared(connection)
