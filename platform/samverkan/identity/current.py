"""Who is signed in with e-ID in this request. The browser's signed session cookie holds
only a random token; everything about the person stays in the database."""

from flask import g, request, session

from samverkan.extensions import db
from samverkan.identity import operations
from samverkan.identity.models import CitizenSession

SESSION_KEY = "citizen"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def signed_in_person() -> CitizenSession | None:
    """The person signed in with e-ID, or None (never signed in, signed out, expired)."""
    if "citizen_session" not in g:
        token = session.get(SESSION_KEY)
        person = None
        if token:
            # Only a request that commits anyway (a POST) starts the idle time again.
            writing = request.method not in SAFE_METHODS
            person = operations.find(db.session, token, touch=writing)
            if person is None:
                session.pop(SESSION_KEY, None)
        g.citizen_session = person
    return g.citizen_session


def remember(token: str) -> None:
    session[SESSION_KEY] = token
    g.pop("citizen_session", None)


def token() -> str | None:
    return session.get(SESSION_KEY)
