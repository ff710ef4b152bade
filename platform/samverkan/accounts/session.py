"""Who is signed in: Flask-Login's loader, and the signed-in user's role at this member."""

from flask import Flask, g
from flask_login import current_user

from samverkan.accounts import session_clock
from samverkan.accounts.models import Membership, User
from samverkan.extensions import db, login_manager


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
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def current_membership() -> Membership | None:
    tenant = g.get("tenant")
    if tenant is None or not current_user.is_authenticated:
        return None
    if "membership" not in g:
        g.membership = db.session.get(Membership, (tenant.id, current_user.id))
    return g.membership
