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


def _render(errors: dict, values: dict, code: int = 200, opened: str | None = None, was=None):
    """The page; `opened`: the stamp the form was opened with, and `was`: the profile as it
    was then, both kept through its errors (a page shown again with a typo to fix is still
    the page opened then)."""
    return render_staff_page(
        "admin/profile.html",
        errors=errors,
        values=values,
        logo_max_mb=1,
        opened=_stamp() if opened is None else opened,
        was=_current() if was is None else was,
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
    was = {name: request.form[f"was-{name}"] for name in entered if f"was-{name}" in request.form}
    try:
        data = ProfileSchema().load(entered)
    except ValidationError as exc:
        opened = request.form.get("opened")
        return _render(exc.messages, entered, 422, opened=opened, was=was or None)
    # The member's row locked until this save commits: two saves from one stamp take turns,
    # and the second then finds the first's stamp.
    db.session.refresh(g.tenant, with_for_update=True)
    if "opened" in request.form and request.form["opened"] != _stamp():
        # Saved meanwhile from another page: this form would undo that without a word.
        return _render(*_merged_with_theirs(entered, was), 409)
    changed = operations.update_profile(db.session, g.tenant, data)
    db.session.commit()
    flash(_("Profilen är sparad.") if changed else _("Inget ändrades i profilen."))
    return redirect(url_for(".profile"), 303)


def _merged_with_theirs(entered: dict, was: dict) -> tuple[dict, dict]:
    """The form shown again after someone else's save: what they changed and this page did
    not is taken in, what this page changed stays; a field both changed is flagged with
    what they saved. The page then carries the new stamp: saved again, it is a decision
    made knowing."""
    saved = _current()
    values, errors = dict(entered), {}
    for name, mine in entered.items():
        theirs, before = str(saved[name]), was.get(name)
        if mine.strip() == theirs.strip():
            continue
        if before is not None and mine.strip() == before.strip():
            values[name] = theirs  # only they changed it
        else:
            errors[name] = [
                _("Sparat av någon annan: %(value)s", value=theirs)
                if theirs
                else _("Någon annan har tömt fältet.")
            ]
    message = _(
        "Någon annan har sparat profilen sedan du öppnade sidan. Deras ändringar står nu i "
        "formuläret tillsammans med dina; kontrollera och spara igen."
    )
    first = next(iter(errors), None) or next(
        (n for n in entered if values[n] != entered[n]), "name"
    )
    errors[first] = [message, *errors.get(first, [])]
    return errors, values


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
