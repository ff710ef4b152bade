"""API tokens: a staff member's key to the staff JSON API at one member.

The secret is shown once, when it is made; the database keeps only its SHA-256 digest
(the secret has 256 bits of randomness, so a plain digest is enough: nothing to guess).
A token works only at the member it was made for, only while it is not revoked, the
user is active and still has a membership there. Like the other operations, these flush
but never commit.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from marshmallow import Schema, fields, validate
from sqlalchemy import orm

from samverkan.accounts.models import ROLES, ApiToken, Membership, User
from samverkan.audit.operations import record
from samverkan.translatable import N_

# A recognisable prefix lets secret scanners (and people) tell what a leaked string is.
PREFIX = "sv_"
MAX_SECRET_LENGTH = 100
# last_used_at is kept to the minute or so: a busy integration should not write a row on
# every request.
TOUCH_EVERY = timedelta(minutes=5)


class TokenError(ValueError):
    """A token that cannot be made or changed as asked; `field` names what to correct."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# Swedish where made (the CLI and the API answer in Swedish); the token page translates them.
LABEL_MISSING = N_("Skriv en benämning, till exempel 'Diariet'.")
LABEL_TOO_LONG = N_("Skriv en benämning på högst 80 tecken, till exempel 'Diariet'.")
ONLY_YOUR_OWN = N_("Du kan bara återkalla dina egna API-nycklar.")


class NewTokenSchema(Schema):
    """What making a token takes (the token page and the CLI)."""

    label = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, error=LABEL_MISSING),
            validate.Length(max=80, error=LABEL_TOO_LONG),
        ],
        error_messages={"required": LABEL_MISSING},
    )


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create(
    session: orm.Session,
    tenant_id: int,
    user: User,
    label: str,
    *,
    actor: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token for the user at the member, and its secret (the only time it is seen)."""
    if session.get(Membership, (tenant_id, user.id)) is None:
        raise TokenError("user", f"{user.email} arbetar inte hos den här organisationen.")
    label = label.strip()
    if not label:
        raise TokenError("label", LABEL_MISSING)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(tenant_id=tenant_id, user_id=user.id, label=label, token_hash=digest(secret))
    session.add(token)
    session.flush()
    entry = record(
        session, "token.created", "api_token", str(token.id), {"label": label, "user": user.email}
    )
    if actor is not None:  # from the command line: no request to name who did it
        entry.actor = actor
    entry.tenant_id = tenant_id
    return token, secret


def authenticate(session: orm.Session, secret: str, now: datetime | None = None) -> ApiToken | None:
    """The token with this secret at the bound member, if it may be used now; else None
    (the same for an unknown, revoked or foreign token, or a user who may no longer work
    there)."""
    if not secret.startswith(PREFIX) or len(secret) > MAX_SECRET_LENGTH or not secret.isascii():
        return None
    # The ORM adds the bound member: another member's token is simply not found.
    token = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if session.get(Membership, (token.tenant_id, token.user_id)) is None:
        return None
    now = now or datetime.now(UTC)
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token.last_used_at = now
    return token


def for_user(session: orm.Session, user_id: int) -> list[ApiToken]:
    """The user's tokens at the bound member, newest first (revoked ones too)."""
    return list(
        session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def colleagues_active(session: orm.Session, user_id: int) -> list[ApiToken]:
    """Everyone else's tokens at the bound member that still work, for its administrators:
    the member's own staff's, not the hub's (whose tokens, made at the hub member for the
    hub's API, are the hub's to manage)."""
    return list(
        session.scalars(
            sa.select(ApiToken)
            .join(
                Membership,
                sa.and_(
                    Membership.tenant_id == ApiToken.tenant_id,
                    Membership.user_id == ApiToken.user_id,
                ),
            )
            .where(
                ApiToken.user_id != user_id,
                ApiToken.revoked_at.is_(None),
                Membership.role.in_(ROLES),
            )
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke(
    session: orm.Session, token_id: int, user: User, *, anyones: bool = False
) -> ApiToken | None:
    """Stop a token at the bound member: one of the user's own or, with `anyones` (an
    administrator), any colleague's. None when the member has no such token; TokenError
    for a colleague's without `anyones`. Revoking twice is harmless."""
    token = session.scalar(sa.select(ApiToken).where(ApiToken.id == token_id))
    if token is None:
        return None
    if token.user_id != user.id:
        owner = session.get(Membership, (token.tenant_id, token.user_id))
        if owner is None or owner.role not in ROLES:
            return None  # the hub's, at the hub member: not the member's to see or stop
        if not anyones:
            raise TokenError("token", ONLY_YOUR_OWN)
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        record(
            session,
            "token.revoked",
            "api_token",
            str(token.id),
            {"label": token.label, "user": token.user.email},
        )
    return token


def delete_for_membership(session: orm.Session, tenant_id: int, user_id: int) -> int:
    """Remove the user's tokens at the member, before their membership is removed (the
    tokens' foreign key points at the membership). Returns how many there were."""
    result = session.execute(
        sa.delete(ApiToken).where(ApiToken.tenant_id == tenant_id, ApiToken.user_id == user_id)
    )
    return result.rowcount
