"""Idle and absolute time-outs for staff sessions.

The signed session cookie carries when the person signed in and when they were last seen;
a session idle longer than STAFF_IDLE_MINUTES, or older than STAFF_SESSION_HOURS, is ended
on its next request and the person is sent to sign in again.
"""

import time

from flask import Flask, current_app, g, session
from flask_login import logout_user

SIGNED_IN_AT = "signed_in_at"
LAST_SEEN = "last_seen"
TOUCH_EVERY = 60  # seconds: do not rewrite the cookie on every request


def init_app(app: Flask) -> None:
    app.before_request(enforce)


def start() -> None:
    now = int(time.time())
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN] = now


def enforce() -> None:
    if "_user_id" not in session:
        return
    now = int(time.time())
    signed_in, last_seen = session.get(SIGNED_IN_AT), session.get(LAST_SEEN)
    idle = current_app.config["STAFF_IDLE_MINUTES"] * 60
    absolute = current_app.config["STAFF_SESSION_HOURS"] * 3600
    if (
        signed_in is None
        or last_seen is None
        or now - last_seen > idle
        or now - signed_in > absolute
    ):
        logout_user()
        session.clear()
        g.session_expired = True
        return
    if now - last_seen >= TOUCH_EVERY:
        session[LAST_SEEN] = now


def keep_going() -> int:
    """The signed-in staff session's idle time starts again now; the seconds it has left
    (idle, or up to its whole lifetime)."""
    now = int(time.time())
    session[LAST_SEEN] = now
    idle = current_app.config["STAFF_IDLE_MINUTES"] * 60
    absolute = current_app.config["STAFF_SESSION_HOURS"] * 3600
    return max(0, min(idle, absolute - (now - session.get(SIGNED_IN_AT, now))))
