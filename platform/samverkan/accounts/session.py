"""Who is signed in: Flask-Login's loader, and the signed-in user's role at this member."""

import functools

import sqlalchemy as sa
from flask import Flask, g
from flask_login import current_user

from samverkan.accounts import session_clock
from samverkan.accounts.models import Membership, User
from samverkan.extensions import db, login_manager
from samverkan.tenancy.request_session import bound_member_id


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)
    session_clock.init_app(app)


def load_user(user_key: str) -> User | None:
    """The session names a user and the session version it was signed in under; a raised
    version (signed out elsewhere, deactivated) ends it here."""
    user_id, _, version = user_key.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    tenant = g.get("tenant")
    if tenant is not None and "membership" not in g and bound_member_id(db.session) == tenant.id:
        # Every staff page asks for the role next (access.staff): both in one query.
        user, membership = _user_with_membership(int(user_id), tenant.id)
        if user is not None:
            g.membership = membership
    else:
        user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        g.pop("membership", None)
        return None
    return user


def _user_with_membership(user_id: int, tenant_id: int) -> tuple[User | None, Membership | None]:
    row = db.session.execute(
        _user_with_membership_statement(), {"user_id": user_id, "tenant_id": tenant_id}
    ).one_or_none()
    return (row[0], row[1]) if row is not None else (None, None)


@functools.cache
def _user_with_membership_statement() -> sa.Select:
    """Made once: every staff page runs it (its criteria kept with it, scoping.py)."""
    return (
        sa.select(User, Membership)
        .outerjoin(
            Membership,
            sa.and_(
                Membership.user_id == User.id,
                Membership.tenant_id == sa.bindparam("tenant_id", type_=sa.Integer),
            ),
        )
        .where(User.id == sa.bindparam("user_id", type_=sa.Integer))
    )


def current_membership() -> Membership | None:
    tenant = g.get("tenant")
    if tenant is None or not current_user.is_authenticated:
        return None
    if "membership" not in g:
        g.membership = db.session.get(Membership, (tenant.id, current_user.id))
    return g.membership
