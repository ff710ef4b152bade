"""Signing staff in and out."""

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from marshmallow import ValidationError

from samverkan.access import public, staff
from samverkan.accounts import operations
from samverkan.accounts.models import Membership
from samverkan.accounts.schemas import SignInSchema
from samverkan.extensions import db, limiter

bp = Blueprint("accounts", __name__, template_folder="templates")


@bp.after_request
def _staff_pages_are_not_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


WRONG = "Fel e-postadress eller lösenord, eller så har du inget konto här."


def _account_key() -> str:
    return "account:" + operations.normalize_email(request.form.get("email", ""))[:254]


def _failed(response) -> bool:
    return response.status_code != 303  # only failed sign-ins count towards the limits


@bp.route("/<slug:tenant>/staff/logga-in", methods=["GET", "POST"])
@public
@limiter.limit("20 per 10 minutes", methods=["POST"], deduct_when=_failed)
@limiter.limit("5 per 10 minutes", methods=["POST"], key_func=_account_key, deduct_when=_failed)
def login():
    if request.method == "GET":
        return render_template("accounts/login.html", errors={}, email="")
    try:
        data = SignInSchema().load(request.form.to_dict())
    except ValidationError as exc:
        errors = {name: list(messages) for name, messages in exc.messages.items()}
        return render_template(
            "accounts/login.html", errors=errors, email=request.form.get("email", "")
        ), 422
    user = operations.authenticate(db.session, data["email"], data["password"])
    member = user and db.session.get(Membership, (g.tenant.id, user.id))
    if not member:
        return render_template(
            "accounts/login.html", errors={"email": [WRONG]}, email=data["email"]
        ), 401
    session.clear()  # a fresh session: nothing from before signing in carries over
    login_user(user)
    return redirect(_safe_next(request.args.get("next")), 303)


def _safe_next(target: str | None) -> str:
    """Only a path on this member's own staff pages; never another site."""
    prefix = f"/{g.tenant.slug}/staff/"
    if target and target.startswith(prefix) and "//" not in target and "\\" not in target:
        return target
    return url_for("casework.inbox")


@bp.post("/<slug:tenant>/staff/logga-ut")
@staff()
def logout():
    operations.end_all_sessions(current_user)
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for(".login"), 303)
