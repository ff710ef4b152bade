"""Citizens' sessions: begun at sign-in, looked up per request, ended at sign-out or when
they expire. They flush but never commit: the request commits once."""

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import orm

from samverkan.db import utcnow
from samverkan.identity.models import CitizenSession
from samverkan.identity.persons import Identity, person_key
from samverkan.tenancy.scoping import SIGN_IN_SETTING, bind_setting

TOUCH_AFTER = timedelta(minutes=1)  # how stale last_seen_at may get before it is written


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _opened(session: orm.Session, token: str) -> str:
    """The token's digest, told to the database: on PostgreSQL a transaction sees only the
    sign-in whose digest it was told (migration 0011), and only the browser has the token."""
    digest = _digest(token)
    bind_setting(session, SIGN_IN_SETTING, digest)
    return digest


def _ends(signed_in_at: datetime, now: datetime) -> datetime:
    config = current_app.config
    idle = now + timedelta(minutes=config["CITIZEN_IDLE_MINUTES"])
    return min(idle, signed_in_at + timedelta(hours=config["CITIZEN_SESSION_HOURS"]))


def begin(session: orm.Session, identity: Identity, now: datetime | None = None) -> str:
    """A new session for `identity`; returns the browser's token (only its digest is kept).
    Ended sessions are removed by `drafts expire` (purge_ended), as the owner."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        CitizenSession(
            digest=_opened(session, token),
            person_key=person_key(identity),
            identifier_kind=identity.kind,
            identifier=identity.identifier,
            name=identity.name,
            given_name=identity.given_name,
            family_name=identity.family_name,
            signed_in_at=now,
            last_seen_at=now,
            expires_at=_ends(now, now),
        )
    )
    session.flush()
    return token


def find(
    session: orm.Session, token: str, *, touch: bool, now: datetime | None = None
) -> CitizenSession | None:
    """The live session the token opens, or None. With `touch` (a request that commits
    anyway), its idle time starts again."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    row = session.get(CitizenSession, _opened(session, token))
    if row is None or row.expires_at <= now:
        return None
    if touch and now - row.last_seen_at > TOUCH_AFTER:
        keep_going(row, now)
    return row


def keep_going(row: CitizenSession, now: datetime | None = None) -> None:
    """The sign-in's idle time starts again now (up to its whole lifetime)."""
    now = now or utcnow()
    row.last_seen_at = now
    row.expires_at = _ends(row.signed_in_at, now)


def same_person(session: orm.Session, token: str, identity: Identity) -> bool:
    """Whether the session the token named (live or not) was this identity's."""
    row = session.get(CitizenSession, _opened(session, token))
    return row is not None and row.person_key == person_key(identity)


def end(session: orm.Session, token: str) -> None:
    digest = _opened(session, token)
    session.execute(sa.delete(CitizenSession).where(CitizenSession.digest == digest))


def purge_ended(session: orm.Session, now: datetime, *, dry_run: bool = False) -> int:
    """Remove (or, dry, count) every ended sign-in: each holds a personnummer and a name.
    In a session as the owner (the application's role sees one sign-in at a time)."""
    ended = CitizenSession.expires_at <= now
    if dry_run:
        return session.scalar(sa.select(sa.func.count()).select_from(CitizenSession).where(ended))
    return session.execute(sa.delete(CitizenSession).where(ended)).rowcount
