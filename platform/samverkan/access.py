"""Who may use a route. Every view declares it; a test walks app.url_map to make sure."""

from collections.abc import Callable
from functools import wraps

import sqlalchemy as sa
from flask import abort, g, jsonify, redirect, request, url_for
from flask_login import current_user

from samverkan.accounts import tokens
from samverkan.accounts.models import ROLES as MEMBER_ROLES
from samverkan.accounts.models import Membership
from samverkan.accounts.session import current_membership
from samverkan.extensions import db, login_manager

PUBLIC = "public"


def public(view: Callable) -> Callable:
    """Anyone, signed in or not: citizens' pages and the public API."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    return view


def citizen(view: Callable) -> Callable:
    """A citizen signed in with e-ID (identity/); anyone else is sent to sign in first and
    comes back here afterwards."""

    @wraps(view)
    def guarded(*args, **kwargs):
        from samverkan.identity.current import signed_in_person

        if signed_in_person() is None:
            return redirect(url_for("identity.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    guarded.access = "citizen"  # type: ignore[attr-defined]
    return guarded


def access_of(view: Callable) -> str | None:
    return getattr(view, "access", None)


def staff(*roles: str) -> Callable[[Callable], Callable]:
    """Signed-in staff of the member in the URL (with one of `roles`, if given).

    Anyone else from another member gets 404, as if the page did not exist; someone not
    signed in is sent to the member's sign-in page. The member's own staff without the
    role (a case worker at the administration's pages) get 403: they know the pages exist,
    and "no such page" would send them looking for a broken link.
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
            # Hub roles (at Karlstad) are for /hub/: they open none of Karlstad's own cases.
            if membership is None:
                abort(404)
            if membership.role not in (roles or MEMBER_ROLES):
                abort(403 if membership.role in MEMBER_ROLES else 404)
            return view(*args, **kwargs)

        guarded.access = "staff:" + ",".join(roles or ("any",))  # type: ignore[attr-defined]
        return guarded

    return decorate


def _token_missing(what: str):
    """401 with the scheme to use, so a client knows to send a token."""
    response = jsonify(
        {
            "error": "API-nyckel saknas",
            "message": f"Skicka {what} i rubriken Authorization: Bearer <nyckel>.",
        }
    )
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="samverkan"'
    return response


def staff_token(*roles: str) -> Callable[[Callable], Callable]:
    """Staff of the member in the URL, by an API token (`Authorization: Bearer <token>`).

    No token at all: 401, so a client knows to send one. A token that is not valid for
    this member (unknown, revoked, another member's, a deactivated user or a removed
    membership) or a role not in `roles`: 404, the same as an unknown case, so nobody
    learns what another member has. Session cookies are never used here.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            auth = request.authorization
            if auth is None or auth.type != "bearer" or not auth.token:
                return _token_missing("din API-nyckel")
            token = tokens.authenticate(db.session, auth.token)
            if token is None:
                abort(404)
            # The token's user acts in this request: the audit log names them.
            login_manager._update_request_context_with_user(token.user)
            g.pop("membership", None)  # never one looked up for a session's user
            g.membership = current_membership()
            # As for pages: a hub role's token (made at Karlstad for the hub's API) opens
            # none of Karlstad's own cases.
            if g.membership is None or g.membership.role not in (roles or MEMBER_ROLES):
                abort(404)
            g.api_token = token
            return view(*args, **kwargs)

        guarded.access = "staff-token:" + ",".join(roles or ("any",))  # type: ignore[attr-defined]
        return guarded

    return decorate


def _bind_hub():
    """The hub member (Karlstad), bound to the session so its memberships can be read."""
    from samverkan.tenancy.models import Tenant
    from samverkan.tenancy.scoping import bind_tenant

    hub = db.session.scalar(sa.select(Tenant).where(Tenant.is_hub.is_(True)))
    if hub is None:  # pragma: no cover - the tenant files always name a hub
        abort(404)
    bind_tenant(db.session, hub.id)
    g.hub = hub
    return hub


def hub(*roles: str) -> Callable[[Callable], Callable]:
    """Signed-in staff of the hub member with one of `roles` (hub_admin, contact_centre).
    Anyone else signed in gets 404; someone not signed in is sent to the hub's sign-in."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            hub_member = _bind_hub()
            if not current_user.is_authenticated:
                expired = {"utloggad": "tid"} if g.get("session_expired") else {}
                return redirect(
                    url_for(
                        "accounts.login",
                        tenant=hub_member.slug,
                        next=request.full_path.rstrip("?"),
                        **expired,
                    )
                )
            membership = db.session.get(Membership, (hub_member.id, current_user.id))
            if membership is None or membership.role not in roles:
                abort(404)
            g.hub_membership = membership
            return view(*args, **kwargs)

        guarded.access = "hub:" + ",".join(roles)  # type: ignore[attr-defined]
        return guarded

    return decorate


def hub_token(*roles: str) -> Callable[[Callable], Callable]:
    """The hub's API: a token made at the hub member for someone with one of `roles`.
    No token: 401; any other token: 404."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            hub_member = _bind_hub()
            auth = request.authorization
            if auth is None or auth.type != "bearer" or not auth.token:
                return _token_missing("navets API-nyckel")
            token = tokens.authenticate(db.session, auth.token)
            if token is None or token.tenant_id != hub_member.id:
                abort(404)
            membership = db.session.get(Membership, (hub_member.id, token.user_id))
            if membership is None or membership.role not in roles:
                abort(404)
            login_manager._update_request_context_with_user(token.user)
            g.api_token = token
            return view(*args, **kwargs)

        guarded.access = "hub-token:" + ",".join(roles)  # type: ignore[attr-defined]
        return guarded

    return decorate
