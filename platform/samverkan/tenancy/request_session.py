"""The request's database session, made when the request first needs it.

A public page served from the worker's memory (citizen/page_cache.py) asks nothing of
the database, yet binding the member to the session used to make one, and closing it
again at the end: a few per cent of such a page's time. The member is now bound when the
session is made; resolve.py only says which member that is.
"""

from flask import g, has_app_context
from flask_sqlalchemy.session import Session
from sqlalchemy import orm

from samverkan.tenancy.scoping import bind_tenant, bound_tenant_id

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
