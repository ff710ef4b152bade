"""Reading the catalogue for the bound tenant."""

import sqlalchemy as sa
from flask import abort

from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.models import Category, ServiceDefinition, TenantService
from samverkan.extensions import db


def enabled_services() -> list[TenantService]:
    """The bound tenant's switched-on e-services, by category order then title."""
    rows = db.session.scalars(
        sa.select(TenantService)
        .join(TenantService.definition)
        .join(ServiceDefinition.category)
        .where(TenantService.enabled.is_(True))
        .order_by(Category.position, Category.key, TenantService.service_slug)
    ).all()
    return rows


def get_enabled_service_or_404(slug: str) -> TenantService:
    service = db.session.scalar(
        sa.select(TenantService).where(
            TenantService.service_slug == slug, TenantService.enabled.is_(True)
        )
    )
    if service is None:
        abort(404)
    return service


def form_for(service: TenantService) -> ServiceForm:
    return ServiceForm(service.definition.content, service.settings)
