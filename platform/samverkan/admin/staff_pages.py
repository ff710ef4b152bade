"""The member's staff: who works here and as what, invitations, role changes, removal."""

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from samverkan.access import staff
from samverkan.accounts.models import ROLES, TENANT_ADMIN, Invitation, Membership, User
from samverkan.admin import staff_operations
from samverkan.admin.blueprint import bp
from samverkan.admin.operations import AdminError
from samverkan.admin.schemas import InvitationSchema, RoleSchema
from samverkan.extensions import db
from samverkan.links import external_url
from samverkan.staff_frame import render_staff_page


def _render(errors: dict | None = None, entered: dict | None = None, code: int = 200):
    return render_staff_page(
        "admin/staff.html",
        people=staff_operations.staff_list(db.session),
        pending=staff_operations.pending_invitations(db.session),
        roles=ROLES,
        errors=errors or {},
        entered=entered or {},
    ), code


def _membership_or_404(user_id: int) -> tuple[User, Membership]:
    membership = db.session.get(Membership, (g.tenant.id, user_id))
    if membership is None or membership.role not in ROLES:
        abort(404)  # nobody here, or one of the hub's roles: not this page's to change
    return db.session.get(User, user_id), membership


@bp.get("/<slug:tenant>/admin/personal")
@staff(TENANT_ADMIN)
def staff_list():
    return _render()


@bp.post("/<slug:tenant>/admin/personal/inbjudan")
@staff(TENANT_ADMIN)
def invite():
    entered = {name: request.form.get(name, "") for name in ("name", "email", "role")}
    try:
        data = InvitationSchema().load(entered)
    except ValidationError as exc:
        return _render(exc.messages, entered, 422)
    try:
        invitation = staff_operations.invite(
            db.session,
            g.tenant,
            data,
            by=current_user,
            link_for=lambda token: external_url("admin.accept_invitation", token=token),
        )
    except AdminError as exc:
        db.session.rollback()
        return _render({exc.field: [exc.message]}, entered, 422)
    db.session.commit()
    # The same words whether or not the address has an account anywhere.
    flash(_("Inbjudan skickad till %(email)s.", email=invitation.email))
    return redirect(url_for(".staff_list"), 303)


@bp.post("/<slug:tenant>/admin/personal/inbjudan/<int:invitation_id>/dra-tillbaka")
@staff(TENANT_ADMIN)
def withdraw_invitation(invitation_id: int):
    invitation = db.session.get(Invitation, invitation_id)
    pending = staff_operations.pending_invitations(db.session)
    if invitation is None or invitation not in pending:
        abort(404)  # another member's, used, expired or withdrawn already
    staff_operations.withdraw(db.session, invitation)
    db.session.commit()
    flash(_("Inbjudan till %(email)s är tillbakadragen.", email=invitation.email))
    return redirect(url_for(".staff_list"), 303)


@bp.post("/<slug:tenant>/admin/personal/<int:user_id>/roll")
@staff(TENANT_ADMIN)
def change_role(user_id: int):
    user, membership = _membership_or_404(user_id)
    try:
        role = RoleSchema().load({"role": request.form.get("role", "")})["role"]
        staff_operations.change_role(db.session, membership, role)
    except ValidationError as exc:
        return _render({f"role-{user_id}": exc.messages["role"]}, code=422)
    except AdminError as exc:
        db.session.rollback()
        return _render({f"role-{user_id}": [exc.message]}, code=422)
    db.session.commit()
    flash(_("%(name)s är nu %(role)s.", name=user.name, role=ROLES[role].lower()))
    if user.id == current_user.id and role != TENANT_ADMIN:
        return redirect(url_for("casework.inbox"), 303)  # these pages are no longer theirs
    return redirect(url_for(".staff_list"), 303)


@bp.get("/<slug:tenant>/admin/personal/<int:user_id>/ta-bort")
@staff(TENANT_ADMIN)
def confirm_removal(user_id: int):
    user, membership = _membership_or_404(user_id)
    return render_staff_page(
        "admin/remove_staff.html",
        person=user,
        membership=membership,
        roles=ROLES,
        errors={},
    )


@bp.post("/<slug:tenant>/admin/personal/<int:user_id>/ta-bort")
@staff(TENANT_ADMIN)
def remove(user_id: int):
    user, membership = _membership_or_404(user_id)
    myself = user.id == current_user.id
    name = user.name  # after the commit their account is no longer this member's to read
    try:
        staff_operations.remove(db.session, membership, by=current_user)
    except AdminError as exc:
        db.session.rollback()
        user, membership = _membership_or_404(user_id)
        return render_staff_page(
            "admin/remove_staff.html",
            person=user,
            membership=membership,
            roles=ROLES,
            errors={"remove": [exc.message]},
        ), 422
    db.session.commit()
    if myself:  # their own session has just ended too
        return redirect(url_for("accounts.login"), 303)
    flash(
        _(
            "%(name)s arbetar inte längre här. Hens ärenden är inte tilldelade någon nu.",
            name=name,
        )
    )
    return redirect(url_for(".staff_list"), 303)
