"""A staff member's own API tokens at this member: list, make (shown once), revoke.
An administrator also sees, and can revoke, every colleague's working token."""

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user
from marshmallow import ValidationError

from samverkan.access import staff
from samverkan.accounts import tokens
from samverkan.accounts.models import TENANT_ADMIN
from samverkan.accounts.session import current_membership
from samverkan.errors import error_response
from samverkan.extensions import db
from samverkan.staff_frame import render_staff_page

bp = Blueprint("api_tokens", __name__, template_folder="templates")


@bp.after_request
def _never_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_admin() -> bool:
    return current_membership().role == TENANT_ADMIN


def _page(errors=None, label="", secret=None, code=200):
    return render_staff_page(
        "accounts/tokens.html",
        tokens=tokens.for_user(db.session, current_user.id),
        colleagues=tokens.colleagues_active(db.session, current_user.id) if _is_admin() else [],
        errors=errors or {},
        label=label,
        secret=secret,
        api_base=url_for("staff_api.cases", _external=True),
    ), code


@bp.get("/<slug:tenant>/staff/api-nycklar")
@staff()
def index():
    return _page()


@bp.post("/<slug:tenant>/staff/api-nycklar")
@staff()
def create():
    label = request.form.get("label", "")
    try:
        data = tokens.NewTokenSchema().load({"label": label})
        _, secret = tokens.create(db.session, g.tenant.id, current_user, data["label"])
    except ValidationError as exc:
        # In the page's language: the messages are marked where they are made (tokens.py).
        shown = {name: list(map(gettext, found)) for name, found in exc.messages.items()}
        return _page(shown, label, code=422)
    except tokens.TokenError as exc:
        db.session.rollback()
        return _page({exc.field: [gettext(exc.message)]}, label, code=422)
    db.session.commit()
    # The one answer to a POST that is not a redirect: the secret must not be kept
    # anywhere (not even in the session cookie) to survive one, so it is shown right here.
    return _page(secret=secret, code=201)


@bp.post("/<slug:tenant>/staff/api-nycklar/<int:token_id>/aterkalla")
@staff()
def revoke(token_id: int):
    try:
        revoked = tokens.revoke(db.session, token_id, current_user, anyones=_is_admin())
    except tokens.TokenError as exc:
        # A colleague's at the same member: nothing another member could learn from this.
        return error_response(403, gettext(exc.message))
    if revoked is None:
        abort(404)
    db.session.commit()
    return redirect(url_for(".index"), 303)
