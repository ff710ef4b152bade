"""Accepting an invitation: public, since the invitee may have no account yet. The token
in the link is the only key, and it opens this member's invitation only."""

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from samverkan.access import public
from samverkan.accounts import operations as accounts
from samverkan.accounts.models import ROLES
from samverkan.admin import staff_operations
from samverkan.admin.blueprint import bp
from samverkan.admin.operations import AdminError
from samverkan.admin.schemas import ExistingAccountSchema, NewAccountSchema
from samverkan.errors import error_response
from samverkan.extensions import db, limiter

GONE = _l(
    "Inbjudan gäller inte. Länken kan redan ha använts, ha gått ut (den gäller i sju dagar) "
    "eller vara felkopierad. Be en administratör om en ny inbjudan."
)


def _failed(response) -> bool:
    return response.status_code != 303  # only failed attempts count towards the limit


@bp.route("/<slug:tenant>/staff/inbjudan/<token:token>", methods=["GET", "POST"])
@public
@limiter.limit("10 per 10 minutes", methods=["POST"], deduct_when=_failed)
def accept_invitation(token: str):
    invitation = staff_operations.find_invitation(db.session, token)
    if invitation is None:
        return error_response(404, str(GONE))
    existing = accounts.find_user(db.session, invitation.email)
    errors, entered = {}, {"name": invitation.name}
    if request.method == "POST":
        form = request.form.to_dict()
        entered["name"] = form.get("name", "")
        try:
            if existing is None:
                data = NewAccountSchema().load(form)
                staff_operations.accept_as_new(
                    db.session, invitation, data["name"], data["password"]
                )
            else:
                data = ExistingAccountSchema().load(form)
                staff_operations.accept_as_existing(db.session, invitation, data["password"])
        except ValidationError as exc:
            errors = exc.messages
        except (AdminError, accounts.AccountError) as exc:
            db.session.rollback()
            errors = {getattr(exc, "field", "password"): [str(exc)]}
        else:
            role = invitation.role
            db.session.commit()
            flash(
                _(
                    "Klart! Du arbetar nu hos %(name)s som %(role)s. Logga in.",
                    name=g.tenant.name,
                    role=ROLES[role].lower(),
                )
            )
            return redirect(url_for("accounts.login"), 303)
    return render_template(
        "admin/accept_invitation.html",
        invitation=invitation,
        existing=existing,
        errors=errors,
        entered=entered,
        roles_label=ROLES[invitation.role],
        min_password=accounts.MIN_PASSWORD_LENGTH,
    ), (422 if errors else 200)
