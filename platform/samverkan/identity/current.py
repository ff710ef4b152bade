"""Who is signed in with e-ID in this request. The browser's signed session cookie holds
only a random token; everything about the person stays in the database."""

from flask import Flask, flash, g, request, session
from flask_babel import gettext as _

from samverkan.citizen import drafts
from samverkan.db import utcnow
from samverkan.extensions import db
from samverkan.identity import operations
from samverkan.identity.models import CitizenSession

SESSION_KEY = "citizen"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app: Flask) -> None:
    app.before_request(_notice_an_ended_sign_in)


def _notice_an_ended_sign_in() -> None:
    """A browser that holds a sign-in learns on its next request, whatever the page, when
    it has ended (and so forgets the drafts made under it). No cost for anyone else."""
    if SESSION_KEY in session:
        signed_in_person()


def signed_in_person() -> CitizenSession | None:
    """The person signed in with e-ID, or None (never signed in, signed out, expired)."""
    state = g._get_current_object()  # once: each use of the proxy finds it again
    if "citizen_session" not in state:
        token = session.get(SESSION_KEY)
        person = None
        if token:
            # Only a request that commits anyway (a POST) starts the idle time again.
            writing = request.method not in SAFE_METHODS
            person = operations.find(db.session, token, touch=writing)
            if person is None:
                # Ended (expired, or signed out elsewhere): what was made under it is
                # someone's personal data, and the next person here must not find it.
                session.pop(SESSION_KEY, None)
                if drafts.forget_this_browsers():
                    # Said on the next page: the answers did not vanish without a word.
                    flash(
                        _(
                            "Din inloggning med e-legitimation har gått ut. Svaren du "
                            "fyllde i under den är borttagna från den här webbläsaren, så "
                            "att ingen annan här ser dem. Börja om, eller logga in igen."
                        )
                    )
        state.citizen_session = person
    return state.citizen_session


def remember(token: str) -> None:
    session[SESSION_KEY] = token
    g.pop("citizen_session", None)


def token() -> str | None:
    return session.get(SESSION_KEY)


def seconds_left(person: CitizenSession | None) -> int:
    """How long the sign-in has before it ends (idle or in all), in whole seconds."""
    if person is None:
        return 0
    return max(0, int((person.expires_at - utcnow()).total_seconds()))
