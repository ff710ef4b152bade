"""State changes for accounts. They flush but never commit: the caller commits once."""

import secrets

import sqlalchemy as sa
from sqlalchemy import orm
from werkzeug.security import check_password_hash, generate_password_hash

from samverkan.accounts.models import HUB_ROLES, ROLES, Membership, User

# Compared against when the e-mail is unknown, so a wrong address takes as long as a
# wrong password and the answer does not tell which accounts exist.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16), method="scrypt")
MIN_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    pass


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user(session: orm.Session, email: str) -> User | None:
    return session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Lösenordet ska vara minst {MIN_PASSWORD_LENGTH} tecken.")
    user.password_hash = generate_password_hash(password, method="scrypt")


def create_user(session: orm.Session, email: str, name: str, password: str) -> User:
    if find_user(session, email) is not None:
        raise AccountError(f"Det finns redan ett konto för {normalize_email(email)}.")
    user = User(email=normalize_email(email), name=name)
    set_password(user, password)
    session.add(user)
    session.flush()
    return user


def grant_membership(session: orm.Session, user: User, tenant_id: int, role: str) -> Membership:
    """Give the user a role at a member (replacing any role they had there)."""
    if role not in ROLES and role not in HUB_ROLES:
        raise AccountError(f"Okänd roll '{role}'; välj en av {', '.join(ROLES)}.")
    membership = session.get(Membership, (tenant_id, user.id))
    if membership is None:
        membership = Membership(tenant_id=tenant_id, user_id=user.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def authenticate(session: orm.Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (the same for every miss)."""
    user = find_user(session, email)
    if user is None or user.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def end_all_sessions(user: User) -> None:
    """Every session signed in under the current version stops working at its next request."""
    user.session_version += 1
