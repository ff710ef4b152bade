"""Who is signed in: Flask-Login's loader, and the signed-in user's role at this member."""

import functools
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, g
from flask_login import current_user
from sqlalchemy import orm

from samverkan import direct_sql
from samverkan.accounts import session_clock
from samverkan.accounts.models import Membership, User
from samverkan.extensions import db, login_manager
from samverkan.tenancy.request_session import bound_member_id
from samverkan.tenancy.scoping import tenant_connection


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


@dataclass(frozen=True)
class StaffRole:
    """The signed-in user's membership at this member, as pages and access checks read it
    (never changed through this: the admin pages change memberships as ORM rows)."""

    tenant_id: int
    user_id: int
    role: str


def _user_with_membership(user_id: int, tenant_id: int) -> tuple[User | None, StaffRole | None]:
    """The user, made a loaded row of the session without a query (as a submission's case
    is), and their role here, read in one Core statement on the member's connection (on
    PostgreSQL on the driver's cursor, direct_sql.py; row-level security holds the
    membership to this member). Through the ORM, the statement, two entities and their
    identity map cost about 0.5 ms of each staff page's CPU on a slow core."""
    session = db.session()
    connection, _ = tenant_connection(session)
    params = {"user_id": user_id, "tenant_id": tenant_id}
    statement = _user_with_membership_statement()
    if connection.dialect.name == "postgresql":
        row = direct_sql.execute(connection, statement, params).fetchone()
    else:
        row = connection.execute(statement, params).one_or_none()
    if row is None:
        return None, None
    values = row._asdict()
    role = values.pop("membership_role")
    user = _loaded(session, User, values)
    return user, StaffRole(tenant_id, user_id, role) if role is not None else None


def _loaded(session: orm.Session, entity: type, values: dict):
    """`values` as a persistent row of the session: the object it holds already, else a
    new one, loaded as read (no query, nothing to write)."""
    mapper = sa.inspect(entity)
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    held = session.identity_map.get(key)
    if held is not None:
        return held
    made = entity(**values)
    orm.make_transient_to_detached(made)
    session.add(made)
    return made


@functools.cache
def _user_with_membership_statement() -> sa.Select:
    """Made once: every staff page runs it."""
    users, memberships = User.__table__, Membership.__table__
    return (
        sa.select(*users.columns, memberships.c.role.label("membership_role"))
        .outerjoin(
            memberships,
            sa.and_(
                memberships.c.user_id == users.c.id,
                memberships.c.tenant_id == sa.bindparam("tenant_id", type_=sa.Integer),
            ),
        )
        .where(users.c.id == sa.bindparam("user_id", type_=sa.Integer))
    )


def current_membership() -> StaffRole | None:
    tenant = g.get("tenant")
    if tenant is None or not current_user.is_authenticated:
        return None
    if "membership" not in g:
        found = db.session.get(Membership, (tenant.id, current_user.id))
        g.membership = StaffRole(tenant.id, current_user.id, found.role) if found else None
    return g.membership
