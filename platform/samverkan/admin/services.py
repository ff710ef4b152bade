"""The member's e-services: switched on or off, and each one's settings."""

import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from samverkan.access import staff
from samverkan.accounts.models import TENANT_ADMIN
from samverkan.admin import operations, service_settings
from samverkan.admin.blueprint import bp
from samverkan.catalogue.fields import localized
from samverkan.catalogue.models import TenantService
from samverkan.catalogue.offers import offered_for
from samverkan.extensions import db
from samverkan.i18n import current_language
from samverkan.retention.periods import load_months, months_text, period_for
from samverkan.staff_frame import render_staff_page


def _all_services() -> list[TenantService]:
    """The member's e-services that are for its kind, and any switched on before that was
    checked (catalogue/offers.py), by title."""
    services = [
        s
        for s in db.session.scalars(sa.select(TenantService))
        if s.enabled or offered_for(s.definition.content, g.tenant.kind)
    ]
    return sorted(services, key=lambda s: localized(s.definition.content["title"], "sv"))


def _service_or_404(slug: str) -> TenantService:
    found = db.session.scalar(sa.select(TenantService).where(TenantService.service_slug == slug))
    return found or abort(404)


def _render_list(errors: dict, code: int = 200):
    return render_staff_page("admin/services.html", services=_all_services(), errors=errors), code


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
        operations.switch_service(db.session, g.tenant, found, wanted == "on")
    except operations.AdminError as exc:
        db.session.rollback()
        return _render_list({service: [exc.message]}, 422)
    db.session.commit()
    title = localized(found.definition.content["title"], current_language())
    if found.enabled:
        flash(_("%(title)s är påslagen.", title=title))
    else:
        flash(_("%(title)s är avslagen.", title=title))
    return redirect(url_for(".services", _anchor=f"service-{service}"), 303)


def _render_settings(
    found: TenantService,
    values: dict,
    errors: dict,
    code: int = 200,
    *,
    retention: str | None = None,
    retention_errors: dict | None = None,
):
    own = (g.tenant.retention_by_service or {}).get(found.service_slug)
    suggested = found.definition.content.get("retention_years")
    return render_staff_page(
        "admin/service_settings.html",
        service=found,
        specs=service_settings.declared(found.definition.content),
        max_length=service_settings.MAX_LENGTH,
        values=values,
        errors=errors,
        retention_value=retention if retention is not None else (own or ""),
        retention_errors=retention_errors or {},
        retention_period=period_for(g.tenant, found.service_slug),
        member_months=months_text(g.tenant.retention_months) if g.tenant.retention_months else None,
        suggested_months=months_text(suggested * 12) if suggested else None,
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
    flash(_("Inställningarna är sparade."))
    return redirect(url_for(".service_settings_page", service=service), 303)


@bp.post("/<slug:tenant>/admin/e-tjanster/<slug:service>/gallring")
@staff(TENANT_ADMIN)
def save_service_retention(service: str):
    found = _service_or_404(service)
    entered = request.form.get("retention_months", "")
    try:
        months = load_months(entered)
    except ValidationError as exc:
        values = service_settings.form_values(found.definition.content, found.settings or {})
        return _render_settings(
            found, values, {}, 422, retention=entered, retention_errors=exc.messages
        )
    changed = operations.set_service_retention(db.session, g.tenant, service, months)
    db.session.commit()
    if not changed:
        flash(_("Gallringsfristen ändrades inte."))
    elif months is None:
        flash(_("E-tjänsten följer nu kommunens gallringsfrist."))
    else:
        flash(_("Gallringsfristen för e-tjänsten är %(months)s.", months=months_text(months)))
    return redirect(url_for(".service_settings_page", service=service, _anchor="gallring"), 303)
