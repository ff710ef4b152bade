"""The tenant administrator's pages at /<member>/admin/: the overview here, the sections in
their own modules (imported below so their routes join the blueprint)."""

import sqlalchemy as sa

from samverkan.access import staff
from samverkan.accounts.models import TENANT_ADMIN, Membership
from samverkan.admin import invitations, log, person, profile, services, staff_pages  # noqa: F401
from samverkan.admin.blueprint import bp
from samverkan.catalogue.models import TenantService
from samverkan.extensions import db
from samverkan.staff_frame import render_staff_page

__all__ = ["bp"]


@bp.get("/<slug:tenant>/admin/")
@staff(TENANT_ADMIN)
def overview():
    # Counting a column of the entity (not count(*) FROM it) lets the tenant criteria see
    # which table is read: they add the bound member only to entities they can find.
    service_count = sa.select(sa.func.count(TenantService.service_slug))
    return render_staff_page(
        "admin/overview.html",
        staff_count=db.session.scalar(sa.select(sa.func.count(Membership.user_id))),
        services_on=db.session.scalar(service_count.where(TenantService.enabled.is_(True))),
        services_all=db.session.scalar(service_count),
    )
