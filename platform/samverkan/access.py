"""Who may use a route. Every view declares it; a test walks app.url_map to make sure."""

from collections.abc import Callable
from functools import wraps

from flask import abort, g, redirect, request, url_for
from flask_login import current_user

from samverkan.accounts.session import current_membership

PUBLIC = "public"


def public(view: Callable) -> Callable:
    """Anyone, signed in or not: citizens' pages and the public API."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    return view


def access_of(view: Callable) -> str | None:
    return getattr(view, "access", None)


def staff(*roles: str) -> Callable[[Callable], Callable]:
    """Signed-in staff of the member in the URL (with one of `roles`, if given).

    Anyone else from another member gets 404, as if the page did not exist; someone not
    signed in is sent to the member's sign-in page.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                expired = {"utloggad": "tid"} if g.get("session_expired") else {}
                return redirect(
                    url_for("accounts.login", next=request.full_path.rstrip("?"), **expired)
                )
            membership = current_membership()
            if membership is None or (roles and membership.role not in roles):
                abort(404)
            return view(*args, **kwargs)

        guarded.access = "staff:" + ",".join(roles or ("any",))  # type: ignore[attr-defined]
        return guarded

    return decorate
