"""The member's e-services: switched on or off, and each one's settings."""

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for

from samverkan.access import staff
from samverkan.accounts.models import TENANT_ADMIN
from samverkan.admin import operations, service_settings
from samverkan.admin.blueprint import bp
from samverkan.catalogue.fields import localized
from samverkan.catalogue.models import TenantService
from samverkan.extensions import db


def _all_services() -> list[TenantService]:
    services = db.session.scalars(sa.select(TenantService)).all()
    return sorted(services, key=lambda s: localized(s.definition.content["title"], "sv"))


def _service_or_404(slug: str) -> TenantService:
    found = db.session.scalar(sa.select(TenantService).where(TenantService.service_slug == slug))
    return found or abort(404)


def _render_list(errors: dict, code: int = 200):
    return render_template("admin/services.html", services=_all_services(), errors=errors), code


@bp.get("/<slug:tenant>/admin/e-tjanster")
@staff(TENANT_ADMIN)
def services():
    return _render_list({})


@bp.post("/<slug:tenant>/admin/e-tjanster/<slug:service>/vaxla")
@staff(TENANT_ADMIN)
def switch_service(service: str):
    found = _service_or_404(service)
    wanted = request.form.get("enabled")
    if wanted not in ("on", "off"):
        abort(400)
    try:
        operations.switch_service(db.session, found, wanted == "on")
    except operations.AdminError as exc:
        db.session.rollback()
        return _render_list({service: [exc.message]}, 422)
    db.session.commit()
    title = localized(found.definition.content["title"], "sv")
    flash(f"{title} är {'påslagen' if found.enabled else 'avslagen'}.")
    return redirect(url_for(".services", _anchor=f"service-{service}"), 303)


def _render_settings(found: TenantService, values: dict, errors: dict, code: int = 200):
    return render_template(
        "admin/service_settings.html",
        service=found,
        specs=service_settings.declared(found.definition.content),
        max_length=service_settings.MAX_LENGTH,
        values=values,
        errors=errors,
    ), code


@bp.get("/<slug:tenant>/admin/e-tjanster/<slug:service>/installningar")
@staff(TENANT_ADMIN)
def service_settings_page(service: str):
    found = _service_or_404(service)
    values = service_settings.form_values(found.definition.content, found.settings or {})
    return _render_settings(found, values, {})


@bp.post("/<slug:tenant>/admin/e-tjanster/<slug:service>/installningar")
@staff(TENANT_ADMIN)
def save_service_settings(service: str):
    found = _service_or_404(service)
    result, entered = service_settings.load(found.definition.content, request.form)
    if not result.ok:
        return _render_settings(found, entered, result.errors, 422)
    operations.save_service_settings(db.session, found, result.settings)
    db.session.commit()
    flash("Inställningarna är sparade.")
    return redirect(url_for(".service_settings_page", service=service), 303)
