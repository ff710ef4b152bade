"""Who is signed in: Flask-Login's loader, and the signed-in user's role at this member."""

import functools
from dataclasses import dataclass, fields

import sqlalchemy as sa
from flask import Flask, g
from flask_login import UserMixin, current_user

from samverkan import direct_sql
from samverkan.accounts import session_clock
from samverkan.accounts.models import Membership, User
from samverkan.extensions import db, login_manager
from samverkan.memo import Memo
from samverkan.tenancy.request_session import bound_member_id
from samverkan.tenancy.scoping import USER_SETTING, bind_setting, tenant_connection


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)
    session_clock.init_app(app)


@dataclass(frozen=True, eq=False)  # eq: UserMixin's, by get_id()
class SignedInUser(UserMixin):
    """Who is signed in, as read at the start of the request: a plain value, never written
    through (it cannot be: changing it raises). A view that changes the account itself
    loads it (account_of). Making an ORM object of the user was ~5 % of a staff page's
    CPU, and every page only reads who is signed in."""

    id: int
    email: str
    name: str
    active: bool
    session_version: int
    totp_secret: str | None

    @classmethod
    def of(cls, user) -> "SignedInUser":
        return cls(*(getattr(user, name) for name in _SIGNED_IN_FIELDS))

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"  # as User.get_id

    @property
    def is_active(self) -> bool:
        return self.active


_SIGNED_IN_FIELDS = tuple(field.name for field in fields(SignedInUser))


# Who is signed in at a member, and as what, kept by the worker for a short while: every
# staff page asks, and the statement was about a sixth of the inbox's CPU. A commit that
# changes a user or a membership (a role, deactivation, signing out everywhere) forgets it
# in every worker at once (memo.py); the time to live bounds only changes made around the
# app.
_signed_in = Memo("SIGNED_IN_CACHE_SECONDS")


def account_of(user) -> User:
    """The signed-in user's account, to change (the session's own row)."""
    return db.session.get(User, user.id)


def load_user(user_key: str) -> SignedInUser | None:
    """The session names a user and the session version it was signed in under; a raised
    version (signed out elsewhere, deactivated) ends it here."""
    user_id, _, version = user_key.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    # On PostgreSQL the account is then visible to this request's transactions also where
    # the user is not staff (migration 0011): signed in at one member, on another's page.
    bind_setting(db.session, USER_SETTING, int(user_id))
    tenant = g.get("tenant")
    if tenant is not None and "membership" not in g and bound_member_id(db.session) == tenant.id:
        # Every staff page asks for the role next (access.staff): both in one query.
        user, membership = _remembered_user_with_membership(int(user_id), tenant.id)
        if user is not None:
            g.membership = membership
    else:
        found = db.session.get(User, int(user_id))
        user = SignedInUser.of(found) if found is not None else None
    if user is None or not user.active or user.session_version != int(version):
        g.pop("membership", None)
        bind_setting(db.session, USER_SETTING, None)
        return None
    return user


@dataclass(frozen=True)
class StaffRole:
    """The signed-in user's membership at this member, as pages and access checks read it
    (never changed through this: the admin pages change memberships as ORM rows)."""

    tenant_id: int
    user_id: int
    role: str


def _remembered_user_with_membership(
    user_id: int, tenant_id: int
) -> tuple[SignedInUser | None, StaffRole | None]:
    key = (user_id, tenant_id)
    found = _signed_in.get(key)
    if found is None:
        found = _user_with_membership(user_id, tenant_id)
        if found[0] is not None:
            _signed_in.put(key, found)  # both frozen: shared by the worker's requests
    return found


def _user_with_membership(
    user_id: int, tenant_id: int
) -> tuple[SignedInUser | None, StaffRole | None]:
    """The user and their role here, read in one Core statement on the member's connection
    (on PostgreSQL on the driver's cursor, direct_sql.py; row-level security holds the
    membership to this member). Through the ORM, the statement, two entities and their
    identity map cost about 0.8 ms of each staff page's CPU on a slow core."""
    connection, _ = tenant_connection(db.session)
    params = {"user_id": user_id, "tenant_id": tenant_id}
    statement = _user_with_membership_statement()
    if connection.dialect.name == "postgresql":
        row = direct_sql.fetch_one(connection, statement, params)
    else:
        row = connection.execute(statement, params).one_or_none()
    if row is None:
        return None, None
    user = SignedInUser(*row[:-1])
    role = row[-1]
    return user, StaffRole(tenant_id, user_id, role) if role is not None else None


@functools.cache
def _user_with_membership_statement() -> sa.Select:
    """Made once: every staff page runs it."""
    users, memberships = User.__table__, Membership.__table__
    return (
        sa.select(
            *(users.c[name] for name in _SIGNED_IN_FIELDS),
            memberships.c.role.label("membership_role"),
        )
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
