"""The member's profile: name, contact details, colours, texts, and the logo."""

from pathlib import Path

from flask import current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from samverkan.access import staff
from samverkan.accounts.models import TENANT_ADMIN
from samverkan.admin import operations
from samverkan.admin.blueprint import bp
from samverkan.admin.schemas import PROFILE_FIELDS, ProfileSchema
from samverkan.extensions import db
from samverkan.staff_frame import render_staff_page

# Fields a form without them leaves as they are (the profile form has always sent the rest).
KEPT_WHEN_NOT_SENT = ("draft_days",)


def _upload_root() -> Path:
    return Path(current_app.config["UPLOAD_ROOT"])


def _render(errors: dict, values: dict, code: int = 200, opened: str | None = None):
    """The page; `opened`: the stamp the form was opened with, kept through its errors
    (a page shown again with a typo to fix is still the page opened then)."""
    return render_staff_page(
        "admin/profile.html",
        errors=errors,
        values=values,
        logo_max_mb=1,
        opened=_stamp() if opened is None else opened,
    ), code


def _stamp() -> str:
    """When the profile was last saved: the form carries it, so that a save made from a
    page opened before someone else's is not taken as if theirs had not happened."""
    edited = g.tenant.profile_edited_at
    return edited.isoformat() if edited else ""


def _current() -> dict:
    return {name: getattr(g.tenant, name) or "" for name in PROFILE_FIELDS}


@bp.get("/<slug:tenant>/admin/profil")
@staff(TENANT_ADMIN)
def profile():
    return _render({}, _current())


@bp.post("/<slug:tenant>/admin/profil")
@staff(TENANT_ADMIN)
def save_profile():
    entered = {
        name: request.form.get(name, "")
        for name in PROFILE_FIELDS
        if name in request.form or name not in KEPT_WHEN_NOT_SENT
    }
    try:
        data = ProfileSchema().load(entered)
    except ValidationError as exc:
        return _render(exc.messages, entered, 422, opened=request.form.get("opened"))
    # The member's row locked until this save commits: two saves from one stamp take turns,
    # and the second then finds the first's stamp.
    db.session.refresh(g.tenant, with_for_update=True)
    if "opened" in request.form and request.form["opened"] != _stamp():
        # Saved meanwhile from another page: this form would undo that without a word.
        # Shown again with what was written here, and the new stamp, to check and save.
        differ = [n for n in PROFILE_FIELDS if n in data and getattr(g.tenant, n) != data[n]]
        first = differ[0] if differ else "name"
        message = _(
            "Någon annan har sparat profilen sedan du öppnade sidan. Det du skrev står kvar; "
            "jämför med den sparade profilen (ladda om sidan i en annan flik) och spara igen."
        )
        return _render({first: [message]}, entered, 409)
    changed = operations.update_profile(db.session, g.tenant, data)
    db.session.commit()
    flash(_("Profilen är sparad.") if changed else _("Inget ändrades i profilen."))
    return redirect(url_for(".profile"), 303)


@bp.post("/<slug:tenant>/admin/profil/logotyp")
@staff(TENANT_ADMIN)
def upload_logo():
    try:
        data, content_type = operations.read_logo(request.files.get("logo"))
    except operations.AdminError as exc:
        return _render({exc.field: [exc.message]}, _current(), 422)
    old = operations.replace_logo(db.session, g.tenant, _upload_root(), data, content_type)
    new = operations.logo_path(_upload_root(), g.tenant)
    try:
        db.session.commit()
    except Exception:
        new.unlink(missing_ok=True)  # nothing points at it
        raise
    if old is not None:
        old.unlink(missing_ok=True)  # only once nothing points at it any more
    flash(_("Logotypen är sparad."))
    return redirect(url_for(".profile"), 303)


@bp.post("/<slug:tenant>/admin/profil/logotyp/ta-bort")
@staff(TENANT_ADMIN)
def remove_logo():
    old = operations.remove_logo(db.session, g.tenant, _upload_root())
    db.session.commit()
    if old is not None:
        old.unlink(missing_ok=True)
        flash(_("Logotypen är borttagen."))
    return redirect(url_for(".profile"), 303)
