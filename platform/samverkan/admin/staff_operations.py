"""Who works at the member: invitations, roles and removal. They flush but never commit."""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy import orm

from samverkan.accounts import operations as accounts
from samverkan.accounts.models import (
    ROLES,
    TENANT_ADMIN,
    ApiToken,
    Invitation,
    Membership,
    User,
)
from samverkan.admin.operations import AdminError
from samverkan.audit.operations import record
from samverkan.cases.models import Case
from samverkan.casework import operations as casework
from samverkan.db import utcnow
from samverkan.outbox import mails
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import INVITATION_SETTING, bind_setting

INVITATION_DAYS = 7


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def staff_list(session: orm.Session) -> list[tuple[User, Membership]]:
    """Everyone who works at the bound member, by name. The hub's own roles (held at the hub
    member) are the hub's to manage, not the member administrators'."""
    return [
        (row.User, row.Membership)
        for row in session.execute(
            sa.select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.role.in_(ROLES))
            .order_by(User.name, User.id)
        )
    ]


def pending_invitations(session: orm.Session) -> list[Invitation]:
    return list(
        session.scalars(
            sa.select(Invitation)
            .where(Invitation.accepted_at.is_(None), Invitation.expires_at > utcnow())
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def withdraw(session: orm.Session, invitation: Invitation) -> None:
    """The invitation's link stops working now (a mistyped address, a change of mind)."""
    invitation.expires_at = utcnow()
    record(
        session,
        "staff.invitation_withdrawn",
        "invitation",
        invitation.email,
        {"role": invitation.role, "invitation": invitation.id},
    )
    session.flush()


def invite(session: orm.Session, tenant: Tenant, data: dict, *, by: User, link_for) -> Invitation:
    """Invite someone by e-mail. The same happens whether or not the address has an account
    (the invitee sees which when they open the link), so the answer tells the inviter
    nothing about other members' staff. `link_for(token)` makes the absolute link."""
    email = accounts.normalize_email(data["email"])
    colleague = session.execute(
        sa.select(User.name, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(
            User.email == email,
            Membership.tenant_id == tenant.id,
            Membership.role.in_(list(ROLES)),  # the hub's roles are not on the member's list
        )
    ).first()
    if colleague is not None:
        # They are on this member's own staff list already: an invitation would change
        # nothing (joining keeps the role they have), yet look as if it had.
        raise AdminError(
            "email",
            _(
                "%(name)s arbetar redan här, som %(role)s. Ändra rollen i listan över "
                "personal i stället.",
                name=colleague.name,
                role=str(ROLES[colleague.role]).lower(),
            ),
        )
    now = utcnow()
    # A new invitation replaces earlier unused ones to the same address.
    for earlier in session.scalars(
        sa.select(Invitation).where(
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > now,
        )
    ):
        earlier.expires_at = now
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        tenant_id=tenant.id,
        email=email,
        name=data["name"],
        role=data["role"],
        token_hash=token_digest(token),
        invited_by_id=by.id,
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    session.flush()
    mails.invitation(session, tenant, invitation, link_for(token))
    record(session, "staff.invited", "invitation", email, {"role": data["role"]})
    session.flush()
    return invitation


def find_invitation(session: orm.Session, token: str) -> Invitation | None:
    """The bound member's open invitation with this token: unused and unexpired."""
    # Locked: two tabs accepting one invitation at once take turns, and the second finds
    # it used (PostgreSQL; SQLite holds the database for a writing request).
    digest = token_digest(token)
    # On PostgreSQL the invitee's account (if they have one elsewhere) is then visible to
    # this request, to be found and joined (migration 0011); to no other.
    bind_setting(session, INVITATION_SETTING, digest)
    invitation = session.scalar(
        sa.select(Invitation).where(Invitation.token_hash == digest).with_for_update()
    )
    if invitation is None or invitation.accepted_at is not None:
        return None
    if invitation.expires_at <= utcnow():
        return None
    return invitation


def accept_as_new(session: orm.Session, invitation: Invitation, name: str, password: str) -> User:
    """The invitee had no account: make one with the password they chose, and the role."""
    user = accounts.create_user(session, invitation.email, name, password)
    return _join(session, invitation, user)


def accept_as_existing(session: orm.Session, invitation: Invitation, password: str) -> User:
    """The invitee has an account: its own password proves it is theirs. The invitation
    never changes that password."""
    user = accounts.authenticate(session, invitation.email, password)
    if user is None:
        raise AdminError("password", _("Fel lösenord. Skriv lösenordet du loggar in med i dag."))
    return _join(session, invitation, user)


def _join(session: orm.Session, invitation: Invitation, user: User) -> User:
    """Add the membership. Someone who already works here keeps the role they have: an
    invitation is not a way round the staff page (and its last-administrator rule)."""
    membership = session.get(Membership, (invitation.tenant_id, user.id))
    if membership is None:
        accounts.grant_membership(session, user, invitation.tenant_id, invitation.role)
    held = invitation.role if membership is None else membership.role
    invitation.accepted_at = utcnow()
    record(
        session,
        "staff.joined",
        "user",
        user.email,
        # The role they hold now (an invitation for another one changes nothing).
        {"role": held, "invitation": invitation.id},
        actor_id=user.id,
        actor=user.email,
    )
    session.flush()
    return user


def _admins(session: orm.Session) -> int:
    """Administrators who can sign in: a deactivated account administers nothing."""
    # count(a column), not count(*) FROM: the tenant criteria must see the entity.
    return session.scalar(
        sa.select(sa.func.count(Membership.user_id))
        .join(User, User.id == Membership.user_id)
        .where(Membership.role == TENANT_ADMIN, User.active.is_(True))
    )


def _keep_an_admin(session: orm.Session, membership: Membership, field: str) -> None:
    user = session.get(User, membership.user_id)
    if membership.role == TENANT_ADMIN and user.active and _admins(session) <= 1:
        raise AdminError(
            field,
            _("Det måste finnas minst en administratör. Bjud in eller utse en till först."),
        )


def change_role(session: orm.Session, membership: Membership, role: str) -> None:
    if role not in ROLES:
        raise AdminError("role", _("Välj administratör eller handläggare."))
    if role == membership.role:
        return
    user = session.get(User, membership.user_id)
    if not user.active:  # it could never use the role; and would count as an administrator
        raise AdminError("role", _("Kontot är avstängt och kan inte få en ny roll."))
    if role != TENANT_ADMIN:
        _keep_an_admin(session, membership, "role")
    old = membership.role
    membership.role = role
    record(session, "staff.role_changed", "user", user.email, {"from": old, "to": role})
    session.flush()


def remove(session: orm.Session, membership: Membership, *, by: User) -> None:
    """Take the user off the member: their cases here go back to nobody, their API keys
    here are deleted, and every session they have ends now."""
    _keep_an_admin(session, membership, "remove")
    user = session.get(User, membership.user_id)
    assigned = session.scalars(
        sa.select(Case).where(
            Case.tenant_id == membership.tenant_id, Case.assigned_to_id == user.id
        )
    ).all()
    for case in assigned:
        casework.assign(session, case, None, by=by)
    session.execute(
        sa.delete(ApiToken).where(
            ApiToken.tenant_id == membership.tenant_id, ApiToken.user_id == user.id
        )
    )
    session.delete(membership)
    accounts.end_all_sessions(user)
    record(session, "staff.removed", "user", user.email, {"role": membership.role})
    session.flush()
